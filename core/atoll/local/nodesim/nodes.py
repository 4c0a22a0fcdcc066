"""What a simulated node's kubelet posts: its Node, its status and its Lease.

Pure functions: labels (pool, edge or cloud, simulated), capacity, healthy conditions that
keep their transition times, loopback addresses, node info, and the Lease in
`kube-node-lease` owned by the Node. `heartbeat.NodeAgent` sends them.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable

from atoll.core import paths
from atoll.core.kube import client as kube_client
from atoll.local.nodesim import addresses, clock, layout

KubeObject = kube_client.KubeObject

LEASE_NAMESPACE = "kube-node-lease"
LEASE_DURATION_SECONDS = 40
KUBELET_PORT = 10250
EDGE_LABEL = "openyurt.io/is-edge-worker"
SIMULATED_LABEL = "atoll.dev/simulated"
CAPACITY = {"cpu": "32", "memory": "128Gi", "pods": "500", "ephemeral-storage": "500Gi"}

_HEALTHY_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)
_NODE_NAMESPACE = uuid.UUID("8f5f3c1e-8a44-4f8e-9c55-6d0c7a1b2e90")


def node_labels(node: layout.SimNode, pool_label: str) -> dict[str, str]:
    """The labels a simulated node registers with; `pool_label` carries its pool."""
    return {
        pool_label: node.pool,
        EDGE_LABEL: "true" if node.edge else "false",
        SIMULATED_LABEL: "true",
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "node.kubernetes.io/instance-type": "atoll-sim",
    }


def node_object(node: layout.SimNode, pool_label: str) -> KubeObject:
    """The Node to create at registration (its status is posted separately)."""
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": node.name, "labels": node_labels(node, pool_label)},
        "spec": {},
    }


def node_status(
    node: layout.SimNode, moment: datetime.datetime, previous: Iterable[KubeObject] = ()
) -> KubeObject:
    """A healthy node's status; a condition keeps its transition time from `previous`."""
    known = {condition.get("type"): condition for condition in previous}
    conditions = [
        _node_condition(kind, status, reason, message, previous=known.get(kind), moment=moment)
        for kind, status, reason, message in _HEALTHY_CONDITIONS
    ]

    node_id = uuid.uuid5(_NODE_NAMESPACE, node.name)
    return {
        "capacity": dict(CAPACITY),
        "allocatable": dict(CAPACITY),
        "conditions": conditions,
        "addresses": [
            {"type": "InternalIP", "address": addresses.node_ip(node.index)},
            {"type": "Hostname", "address": node.name},
        ],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
        "nodeInfo": {
            "machineID": node_id.hex,
            "systemUUID": str(node_id),
            "bootID": "",
            "kernelVersion": "",
            "osImage": "atoll simulated node",
            "containerRuntimeVersion": "atoll-sim://1",
            "kubeletVersion": paths.KUBE_VERSION,
            "kubeProxyVersion": "",
            "operatingSystem": "linux",
            "architecture": "amd64",
        },
    }


def _node_condition(
    kind: str,
    status: str,
    reason: str,
    message: str,
    *,
    previous: KubeObject | None,
    moment: datetime.datetime,
) -> KubeObject:
    transition = clock.rfc3339(moment)
    if previous is not None and previous.get("status") == status:
        transition = previous.get("lastTransitionTime") or transition
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastHeartbeatTime": clock.rfc3339(moment),
        "lastTransitionTime": transition,
    }


def lease_object(node_name: str, node_uid: str, moment: datetime.datetime) -> KubeObject:
    """The node's Lease in `kube-node-lease`, owned by its Node as the kubelet does it."""
    return {
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": node_name,
            "namespace": LEASE_NAMESPACE,
            "ownerReferences": [_node_reference(node_name, node_uid)],
        },
        "spec": {
            "holderIdentity": node_name,
            "leaseDurationSeconds": LEASE_DURATION_SECONDS,
            "renewTime": clock.rfc3339_micro(moment),
        },
    }


def lease_renewal(node_name: str, node_uid: str, moment: datetime.datetime) -> KubeObject:
    """The merge patch that renews the Lease (and re-points its owner at the current Node)."""
    lease = lease_object(node_name, node_uid, moment)
    return {
        "metadata": {"ownerReferences": lease["metadata"]["ownerReferences"]},
        "spec": lease["spec"],
    }


def _node_reference(node_name: str, node_uid: str) -> KubeObject:
    return {"apiVersion": "v1", "kind": "Node", "name": node_name, "uid": node_uid}
