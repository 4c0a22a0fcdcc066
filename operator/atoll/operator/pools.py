"""Node pools from the operator's side: dedication, and each pool's state for status.

A pool granted `dedicated: true` belongs to one VirtualCluster: its nodes carry the taint
`atoll.dev/dedicated=<vc uid>:NoSchedule`, which only that cluster's pods tolerate (the
syncer adds the toleration and refuses a tenant that writes it itself). A pool already
dedicated to another VirtualCluster cannot be granted. `status.nodePools` reports, per
granted pool, its type, nodes ready and total, the tenant's pods there and quota usage.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

from atoll.core import api as atoll_api
from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer.pods import placement, quota

KubeObject = kube_client.KubeObject
EDGE_LABEL = "openyurt.io/is-edge-worker"
MAX_QUANTITY = Decimal(2**63 - 1)


def seniority(vc: KubeObject) -> tuple[str, str]:
    """Orders claims on a dedicated pool: creation time, then uid."""
    metadata = vc["metadata"]
    return str(metadata.get("creationTimestamp", "")), str(metadata["uid"])


def dedicated_pools(vc: KubeObject) -> list[str]:
    return [
        pool["name"]
        for pool in (vc.get("spec") or {}).get("nodePools") or []
        if pool.get("dedicated")
    ]


async def dedication_conflicts(api: kube_client.Client, vc: KubeObject) -> dict[str, str]:
    """Pools `vc` wants dedicated that another VirtualCluster already holds: pool → holder."""
    wanted = set(dedicated_pools(vc))
    if not wanted:
        return {}
    listing = await api.get(atoll_api.VIRTUALCLUSTERS.path())
    conflicts: dict[str, str] = {}
    for other in listing["items"]:
        if other["metadata"]["uid"] == vc["metadata"]["uid"]:
            continue
        if other["metadata"].get("deletionTimestamp"):
            continue
        # The oldest claimant holds a dedicated pool; later ones are refused, never it.
        if seniority(other) > seniority(vc):
            continue
        for pool in wanted & set(dedicated_pools(other)):
            conflicts[pool] = f"{other['metadata']['namespace']}/{other['metadata']['name']}"
    return conflicts


async def ensure_dedication(api: kube_client.Client, vc: KubeObject, pool_label: str) -> None:
    """Taint the nodes of `vc`'s dedicated pools for it, and untaint pools it gave up."""
    uid = vc["metadata"]["uid"]
    wanted = set(dedicated_pools(vc))
    nodes = (await api.get(resources.NODES.path()))["items"]
    for node in nodes:
        pool = (node["metadata"].get("labels") or {}).get(pool_label)
        await _set_taint(api, node, uid, present=pool in wanted)


async def release_dedication(api: kube_client.Client, vc_uid: str) -> None:
    """Remove `vc_uid`'s taint from every node (the VirtualCluster is going away)."""
    for node in (await api.get(resources.NODES.path()))["items"]:
        await _set_taint(api, node, vc_uid, present=False)


async def _set_taint(api: kube_client.Client, node: KubeObject, uid: str, *, present: bool) -> None:
    taints = list((node.get("spec") or {}).get("taints") or [])
    ours = {"key": placement.DEDICATED_TAINT_KEY, "value": uid, "effect": "NoSchedule"}
    has = any(taint.get("key") == ours["key"] and taint.get("value") == uid for taint in taints)
    if has == present:
        return
    kept = [
        taint
        for taint in taints
        if not (taint.get("key") == ours["key"] and taint.get("value") == uid)
    ]
    # The resourceVersion makes this a compare-and-swap: a concurrent change wins, we retry.
    patch = {
        "metadata": {"resourceVersion": node["metadata"]["resourceVersion"]},
        "spec": {"taints": [*kept, ours] if present else kept},
    }
    with contextlib.suppress(errors.NotFound):
        await api.patch(resources.NODES.path(name=node["metadata"]["name"]), patch)


async def pool_status(
    api: kube_client.Client, vc: KubeObject, pool_label: str
) -> list[dict[str, Any]]:
    """`status.nodePools`: per granted pool, type, nodes, the tenant's pods and quota."""
    granted = (vc.get("spec") or {}).get("nodePools") or []
    if not granted:
        return []
    nodes = await api.get(resources.NODES.path(), params={"labelSelector": pool_label})
    pods = (
        await api.get(
            resources.PODS.path(),
            params={"labelSelector": f"{naming.VC_UID}={vc['metadata']['uid']}"},
        )
    )["items"]
    node_pool = {
        node["metadata"]["name"]: node["metadata"]["labels"].get(pool_label)
        for node in nodes["items"]
    }
    report = []
    for pool in granted:
        name = pool["name"]
        members = [
            node for node in nodes["items"] if node["metadata"]["labels"].get(pool_label) == name
        ]
        # A pod is in a pool when pinned there (quotas) or running on one of its nodes.
        placed = [
            pod
            for pod in pods
            if ((pod.get("spec") or {}).get("nodeSelector") or {}).get(pool_label) == name
            or node_pool.get((pod.get("spec") or {}).get("nodeName", "")) == name
        ]
        entry: dict[str, Any] = {
            "name": name,
            "type": "Edge"
            if any(node["metadata"]["labels"].get(EDGE_LABEL) == "true" for node in members)
            else "Cloud",
            "nodesReady": sum(_ready(node) for node in members),
            "nodesTotal": len(members),
            "pods": len(
                [pod for pod in placed if pod.get("status", {}).get("phase") not in quota.TERMINAL]
            ),
        }
        if caps := quota.hard(vc.get("spec") or {}, name):
            used = quota.used(placed)
            entry["quota"] = {
                "hard": {key: _show(value) for key, value in caps.items()},
                "used": {key: _show(used.get(key, Decimal(0))) for key in caps},
            }
        report.append(entry)
    return report


def quota_problem(spec: dict[str, Any]) -> str | None:
    """What is wrong with a quota the schema lets through, or None.

    The schema checks a quantity's spelling, not its value: a negative cap can never be met,
    and one past what Kubernetes counts (2^63 - 1) cannot even be shown.
    """
    places = [
        (f"spec.nodePools[{index}].quota", pool.get("quota") or {})
        for index, pool in enumerate(spec.get("nodePools") or [])
    ]
    places.append(("spec.isolation.quota", (spec.get("isolation") or {}).get("quota") or {}))
    for where, caps in places:
        for resource, value in caps.items():
            try:
                amount: Decimal | None = quota.parse_quantity(value)
            except (ValueError, ArithmeticError):
                amount = None
            if amount is None or not Decimal(0) <= amount <= MAX_QUANTITY:
                return (
                    f"{where}.{resource} is {value}: a quota is a quantity from 0 to "
                    f"{MAX_QUANTITY}; fix {where}"
                )
    return None


def _ready(node: KubeObject) -> bool:
    return any(
        item.get("type") == "Ready" and item.get("status") == "True"
        for item in node.get("status", {}).get("conditions") or []
    )


def _show(value: Decimal) -> str:
    return f"{value.normalize():f}"
