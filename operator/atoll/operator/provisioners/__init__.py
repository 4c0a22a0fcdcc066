"""Provisioners build, run, pause and remove tenant control planes behind one interface.

`process` runs the datastore, kube-apiserver and kube-controller-manager as local processes
(the default in local mode); `kubernetes` runs them as workloads in the super-cluster (the
default in-cluster). Both take a `plan.ControlPlanePlan` and the tenant's PKI.
"""
