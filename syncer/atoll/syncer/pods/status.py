"""The upward half of pod sync: a tenant pod's status and node binding from its super pod.

The super-cluster's scheduler and kubelet own a pod's life; the tenant pod mirrors it. The
engine calls `binding` once the super pod is scheduled (the tenant pod then shows the real
node, which the tenant sees as a virtual node of the same name) and `tenant_status` on every
change of the super pod; both return None when the tenant pod already shows the truth, so
repeated calls never write in a loop. Readiness gates are the one thing that flows the other
way: the tenant's controllers set them on the tenant pod, and `super_gate_conditions` copies
them down so the super kubelet can count the pod ready.
"""

from __future__ import annotations

import datetime
from typing import Any

from atoll.syncer import mapping

SYNCED = "atoll.dev/Synced"
PLACEMENT_REFUSED = "PlacementRefused"
# What the tenant pod shows of its super pod (its own spec and metadata stay its own).
STATUS_FIELDS = (
    "phase",
    "conditions",
    "message",
    "reason",
    "hostIP",
    "hostIPs",
    "podIP",
    "podIPs",
    "startTime",
    "containerStatuses",
    "initContainerStatuses",
    "qosClass",
    "nominatedNodeName",
)


def tenant_status(super_pod: dict[str, Any], tenant_pod: dict[str, Any]) -> dict[str, Any] | None:
    """A merge patch of the tenant pod's status; None when it already shows the super one's.

    Fields the super pod no longer has are null in the patch, so they are cleared.
    """
    super_status = super_pod.get("status") or {}
    current = tenant_pod.get("status") or {}
    wanted = {field: super_status.get(field) for field in STATUS_FIELDS}
    wanted["conditions"] = _merged_conditions(super_status, tenant_pod)

    # The tenant API server worked out the QoS class when the pod was created; it is the
    # same class, and rewriting a set one could only be refused.
    if current.get("qosClass"):
        wanted["qosClass"] = current["qosClass"]

    if all(current.get(field) == value for field, value in wanted.items()):
        return None
    return {
        field: value for field, value in wanted.items() if value is not None or field in current
    }


def super_gate_conditions(
    tenant_pod: dict[str, Any], super_pod: dict[str, Any]
) -> list[dict[str, Any]] | None:
    """The super pod's conditions with the tenant's readiness-gate ones; None if in step."""
    gates = _gate_types(tenant_pod)
    if not gates:
        return None
    current = (super_pod.get("status") or {}).get("conditions") or []
    own = [
        item
        for item in (tenant_pod.get("status") or {}).get("conditions") or []
        if item.get("type") in gates
    ]
    wanted = [item for item in current if item.get("type") not in gates] + own
    same = _by_type(wanted) == _by_type(current)
    return None if same else wanted


def binding(super_pod: dict[str, Any], tenant_pod: dict[str, Any]) -> dict[str, Any] | None:
    """The Binding that shows the tenant pod on its super pod's node, when one is needed."""
    node = (super_pod.get("spec") or {}).get("nodeName")
    metadata = tenant_pod["metadata"]
    if not node or (tenant_pod.get("spec") or {}).get("nodeName"):
        return None

    # A super pod left by an earlier tenant pod of the same name binds nothing; nor can a
    # pod being deleted be bound.
    if mapping.tenant_uid_of(super_pod) != metadata.get("uid") or metadata.get("deletionTimestamp"):
        return None
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata["uid"],  # the API server refuses to bind a pod of another uid
        },
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


def refused_condition(message: str) -> dict[str, Any]:
    """The condition telling the tenant why its pod was not created on the super-cluster."""
    return {
        "type": SYNCED,
        "status": "False",
        "reason": PLACEMENT_REFUSED,
        "message": message,
        "lastTransitionTime": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def _by_type(conditions: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {item.get("type", ""): item for item in conditions}


def _gate_types(tenant_pod: dict[str, Any]) -> set[str]:
    gates = (tenant_pod.get("spec") or {}).get("readinessGates") or []
    return {gate["conditionType"] for gate in gates if gate.get("conditionType")}


def _merged_conditions(
    super_status: dict[str, Any], tenant_pod: dict[str, Any]
) -> list[dict[str, Any]] | None:
    # Readiness-gate conditions are the tenant's own (its controllers set them): the tenant
    # pod's copy is the true one. Every other tenant-side condition, such as an old
    # refusal, gives way to the super pod's.
    gates = _gate_types(tenant_pod)
    own = [
        item
        for item in (tenant_pod.get("status") or {}).get("conditions") or []
        if item.get("type") in gates
    ]
    shown = [item for item in super_status.get("conditions") or [] if item.get("type") not in gates]
    return shown + own or None
