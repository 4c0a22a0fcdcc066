"""Simulated nodes for the local super-cluster: a process that plays their kubelets.

`python -m atoll.local.nodesim` (`main`) registers the nodes of a pool layout (`layout`)
with a real API server and keeps them alive with Leases and status (`heartbeat`, built by
`nodes`); it runs the pods bound to them (`pods`, with statuses from `podstatus` and loopback
addresses from `addresses`) and cuts or restores a pool's link on request (`control`), so
that edge autonomy can be shown and tested on one machine. Two cluster-wide stand-ins for a
cloud run beside them: a volume provisioner (`storage`) and a load-balancer controller
(`loadbalancers`).
"""
