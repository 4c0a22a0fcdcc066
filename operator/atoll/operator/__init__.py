"""The atoll operator: Kopf handlers that turn VirtualCluster objects into control planes.

It sits above the syncer and the core layers: it validates and provisions tenant control
planes, keeps their certificates and kubeconfigs, reports status, and starts the syncer for
every VirtualCluster that is Running.
"""
