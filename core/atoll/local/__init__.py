"""The local super-cluster: real Kubernetes on loopback, with no container runtime.

`atoll up` starts a supervisor process (`supervisor`) that runs etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and the node simulator (`nodesim`) as its children,
with credentials from `credentials` and command lines from `components`. The CLI talks to it
through the state folder only (`state`): a lock held while it runs and a JSON status file.
`cluster` holds the client-side operations: start, wait until ready, stop, report.
"""
