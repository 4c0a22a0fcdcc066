"""Pod quotas: what a pod costs, what a pool or a whole tenant has left, where a pod goes.

A VirtualCluster may cap, per granted pool, its pods and their CPU and memory requests and
limits (`spec.nodePools[].quota`). Usage is counted from the super pods the tenant really
has in each pool — every super pod is pinned to one pool when it is created, so "in a pool"
is a fact, not a guess — plus the creations still on their way. Pure functions: the pod
syncer holds the ledger and the lock that make concurrent admissions safe.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any, cast

from kubernetes.utils import quantity as kubernetes_quantity

from atoll.syncer import mapping

# The official client parses Kubernetes quantities ("500m", "1Gi") exactly; it is untyped.
parse_quantity = cast(Callable[[object], Decimal], kubernetes_quantity.parse_quantity)

Usage = dict[str, Decimal]
RESOURCES = ("pods", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory")
TERMINAL = ("Succeeded", "Failed")


def cost(pod: Mapping[str, Any]) -> Usage:
    """What one pod counts against a quota, the way the scheduler sums it."""
    spec = pod.get("spec") or {}
    result: Usage = {"pods": Decimal(1)}
    for side in ("requests", "limits"):
        for resource in ("cpu", "memory"):
            running = sum(
                (_amount(container, side, resource) for container in spec.get("containers") or []),
                Decimal(0),
            )
            starting = max(
                (
                    _amount(container, side, resource)
                    for container in spec.get("initContainers") or []
                ),
                default=Decimal(0),
            )
            result[f"{side}.{resource}"] = max(running, starting)
    return result


def _amount(container: Mapping[str, Any], side: str, resource: str) -> Decimal:
    value = ((container.get("resources") or {}).get(side) or {}).get(resource)
    return Decimal(parse_quantity(value)) if value is not None else Decimal(0)


def hard(spec: Mapping[str, Any], pool: str) -> Usage:
    """The caps of `pool` in a VirtualCluster spec (only those it sets)."""
    for granted in spec.get("nodePools") or []:
        if granted.get("name") == pool:
            return {
                name: Decimal(parse_quantity(value))
                for name, value in (granted.get("quota") or {}).items()
                if name in RESOURCES
            }
    return {}


def add(total: Usage, extra: Mapping[str, Decimal]) -> Usage:
    return {
        name: total.get(name, Decimal(0)) + extra.get(name, Decimal(0)) for name in {*total, *extra}
    }


@dataclasses.dataclass(frozen=True)
class PodUse:
    """What one super pod counts, worked out once when the cache takes it in."""

    tenant_key: str | None  # the tenant pod it stands for
    pool: str  # the pool it is pinned to, "" if none
    counted: Usage | None  # None once it has finished or is going away


def use_of(pod: Mapping[str, Any], pool_label: str) -> PodUse:
    metadata = pod.get("metadata") or {}
    gone = (pod.get("status") or {}).get("phase") in TERMINAL or metadata.get("deletionTimestamp")
    return PodUse(
        tenant_key=mapping.tenant_key_of(dict(pod)),
        pool=str(((pod.get("spec") or {}).get("nodeSelector") or {}).get(pool_label, "")),
        counted=None if gone else cost(pod),
    )


def used(uses: Iterable[PodUse]) -> Usage:
    """The usage of the pods behind `uses`, leaving out those finished or going away."""
    total: Usage = {}
    for use in uses:
        if use.counted is not None:
            total = add(total, use.counted)
    return total


def shortfall(caps: Usage, usage: Usage, wanted: Usage, *, scope: str, fix: str) -> str | None:
    """Why `wanted` does not fit under `caps` (naming the resource), or None when it does.

    `scope` names what the caps belong to ("pool edge-a", "the cluster"); `fix` says how to
    make room.
    """
    for name in RESOURCES:
        if name not in caps:
            continue
        after = usage.get(name, Decimal(0)) + wanted.get(name, Decimal(0))
        if after > caps[name]:
            return (
                f"{scope} quota for {name} is {show(caps[name])}; "
                f"{show(usage.get(name, Decimal(0)))} in use and this pod needs "
                f"{show(wanted.get(name, Decimal(0)))}. It will start when room frees "
                f"({fix})"
            )
    return None


def headroom(caps: Usage, usage: Usage) -> Decimal:
    """How much room a pool has left, as the smallest fraction over its caps."""
    if not caps:
        return Decimal(1)
    return min(
        (caps[name] - usage.get(name, Decimal(0))) / caps[name] if caps[name] else Decimal(0)
        for name in caps
    )


def show(value: Decimal) -> str:
    """A quantity as a person writes it: 0.5, 64, 1073741824."""
    return f"{value.normalize():f}"
