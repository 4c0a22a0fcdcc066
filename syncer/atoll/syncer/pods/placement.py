"""Where a tenant's pods may run on the super-cluster: pools, dedicated pools, edge autonomy.

A VirtualCluster is granted node pools (a node label names a node's pool). Before a tenant
pod goes down, `refusal` says whether it asks for a pool it was not granted — by its
nodeSelector, its required node affinity or the node it names; such a pod is not created and
the tenant is told why. `apply` then fences the super pod into the granted pools, picks the
default pool for pods that say nothing about pools, lets the tenant's pods onto its own
dedicated pools (their nodes carry a taint only those pods tolerate), and keeps pods on edge
pools bound to nodes that lose their link for as long as the VirtualCluster's autonomy allows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from atoll.syncer import mapping

DEDICATED_TAINT_KEY = "atoll.dev/dedicated"  # the taint's value is the owning VC's uid
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
DEFAULT_AUTONOMY_SECONDS = 86400

# A set of pools, or None for "every pool not dedicated to another tenant" (an open set).
Pools = frozenset[str] | None


@dataclasses.dataclass(frozen=True)
class Placement:
    """The pools one VirtualCluster's pods may use, read from its spec and the pool facts."""

    pool_label: str  # node label naming a node's pool
    allowed_pools: tuple[str, ...]  # empty: any pool not dedicated to another tenant
    default_pool: str | None  # pool for pods that name none (None: any allowed pool)
    dedicated_pools: frozenset[str]  # pools dedicated to this tenant
    foreign_dedicated: frozenset[str]  # pools dedicated to other tenants (never allowed)
    edge_pools: frozenset[str]  # pools of type Edge
    autonomy_seconds: int | None  # None: unlimited
    vc_uid: str  # value of the dedicated taint on this tenant's dedicated pools


def placement_of(
    tenant: mapping.Tenant, *, dedicated_elsewhere: frozenset[str], edge_pools: frozenset[str]
) -> Placement:
    """The placement of `tenant`, given the pools dedicated to others and the edge pools."""
    pools = tenant.spec.get("nodePools") or []
    autonomy = tenant.spec.get("autonomy") or {}
    return Placement(
        pool_label=tenant.pool_label,
        allowed_pools=tuple(pool["name"] for pool in pools),
        default_pool=tenant.spec.get("defaultNodePool"),
        dedicated_pools=frozenset(pool["name"] for pool in pools if pool.get("dedicated")),
        foreign_dedicated=dedicated_elsewhere,
        edge_pools=edge_pools,
        autonomy_seconds=None
        if autonomy.get("unlimited")
        else int(autonomy.get("tolerationSeconds", DEFAULT_AUTONOMY_SECONDS)),
        vc_uid=tenant.vc_uid,
    )


def granted_pools(placement: Placement) -> Pools:
    """The pools the tenant may use; None when it may use any not dedicated to another."""
    if not placement.allowed_pools:
        return None
    return frozenset(placement.allowed_pools) - placement.foreign_dedicated


def is_granted(placement: Placement, pool: str) -> bool:
    granted = granted_pools(placement)
    return pool not in placement.foreign_dedicated if granted is None else pool in granted


def refusal(
    placement: Placement, tenant_pod: dict[str, Any], node_pools: Mapping[str, str]
) -> str | None:
    """Why `tenant_pod` may not go down, for the tenant to read; None when it may."""
    spec = tenant_pod.get("spec") or {}

    # Only atoll lets pods onto dedicated pools: a tenant's own toleration would be a forgery.
    if any(item.get("key") == DEDICATED_TAINT_KEY for item in spec.get("tolerations") or []):
        return f"toleration {DEDICATED_TAINT_KEY} is reserved to atoll; remove it"

    if granted_pools(placement) == frozenset():
        listed = ", ".join(placement.allowed_pools)
        return f"no pool granted to this cluster is available: {listed} dedicated to others"

    reasons = (
        _selector_refusal(placement, spec),
        _node_refusal(placement, spec, node_pools),
        _affinity_refusal(placement, spec, node_pools),
    )
    reason = next((item for item in reasons if item is not None), None)
    return None if reason is None else f"{reason}; {_choices(placement)}"


def _selector_refusal(placement: Placement, spec: dict[str, Any]) -> str | None:
    selected = (spec.get("nodeSelector") or {}).get(placement.pool_label)
    if selected is None or is_granted(placement, selected):
        return None
    return _not_granted([selected])


def _node_refusal(
    placement: Placement, spec: dict[str, Any], node_pools: Mapping[str, str]
) -> str | None:
    node = spec.get("nodeName")
    return _node_reason(placement, node, node_pools) if node else None


def _affinity_refusal(
    placement: Placement, spec: dict[str, Any], node_pools: Mapping[str, str]
) -> str | None:
    # Terms are ORed: the pod is refused only when no term admits a granted pool.
    terms = required_terms(spec)
    if not terms or any(_admits(placement, term, node_pools) for term in terms):
        return None
    asked = {pool for term in terms for pool in _in_values(placement, term)}
    asked = {pool for pool in asked if not is_granted(placement, pool)}
    if asked:
        return _not_granted(sorted(asked))
    for node in (node for term in terms for node in named_nodes(term) or ()):
        if reason := _node_reason(placement, node, node_pools):
            return reason
    return "the pod's node affinity excludes every pool granted to this cluster"


def _admits(placement: Placement, term: dict[str, Any], node_pools: Mapping[str, str]) -> bool:
    if narrow(placement, granted_pools(placement), term) == frozenset():
        return False
    nodes = named_nodes(term)
    return nodes is None or any(_node_reason(placement, node, node_pools) is None for node in nodes)


def _node_reason(placement: Placement, node: str, node_pools: Mapping[str, str]) -> str | None:
    pool = node_pools.get(node)
    if pool is None:
        return f"node {node} belongs to no known pool"
    if not is_granted(placement, pool):
        return f"node {node} is in pool {pool}, which is not granted to this cluster"
    return None


def _not_granted(pools: list[str]) -> str:
    if len(pools) == 1:
        return f"pool {pools[0]} is not granted to this cluster"
    return f"pools {', '.join(pools)} are not granted to this cluster"


def apply(placement: Placement, super_pod_spec: dict[str, Any]) -> None:
    """Fence `super_pod_spec` into the granted pools and add the tolerations they call for."""
    spec = super_pod_spec
    chooses_pool = _constrains_pool(placement, spec)
    _require_granted(placement, spec)

    # A pod that says nothing about pools goes to the default one.
    if placement.default_pool is not None and not chooses_pool:
        spec.setdefault("nodeSelector", {})[placement.pool_label] = placement.default_pool

    pools = reachable_pools(placement, spec)
    tolerations = [
        item for item in spec.get("tolerations") or [] if item.get("key") != DEDICATED_TAINT_KEY
    ]
    if _meets(pools, placement.dedicated_pools):
        tolerations.append(
            {
                "key": DEDICATED_TAINT_KEY,
                "operator": "Equal",
                "value": placement.vc_uid,
                "effect": "NoSchedule",
            }
        )

    # An edge node that loses its link is stale, not dead: keep its pods bound to it.
    if _meets(pools, placement.edge_pools - placement.foreign_dedicated):
        tolerations = [item for item in tolerations if not _evicts_for_link(item)]
        tolerations.extend(_autonomy_toleration(key, placement) for key in (UNREACHABLE, NOT_READY))
    if tolerations:
        spec["tolerations"] = tolerations


def reachable_pools(placement: Placement, spec: dict[str, Any]) -> Pools:
    """The granted pools a pod with `spec` can be scheduled to, by its selector and affinity."""
    pools = granted_pools(placement)
    selected = (spec.get("nodeSelector") or {}).get(placement.pool_label)
    if selected is not None:
        pools = frozenset({selected}) & (
            pools if pools is not None else {selected} - placement.foreign_dedicated
        )
    terms = required_terms(spec)
    if not terms:
        return pools
    narrowed = [narrow(placement, pools, term) for term in terms]
    if any(item is None for item in narrowed):
        return None
    return frozenset().union(*(item for item in narrowed if item is not None))


def narrow(placement: Placement, pools: Pools, term: dict[str, Any]) -> Pools:
    """The pools among `pools` that the In/NotIn expressions of `term` on the pool label admit."""
    for expression in term.get("matchExpressions") or []:
        if expression.get("key") != placement.pool_label:
            continue
        values = frozenset(expression.get("values") or ())
        if expression.get("operator") == "In":
            pools = values - placement.foreign_dedicated if pools is None else pools & values
        elif expression.get("operator") == "NotIn" and pools is not None:
            # An open set minus a few pools is still open: only a finite one narrows.
            pools -= values
    return pools


def named_nodes(term: dict[str, Any]) -> list[str] | None:
    """The nodes a term pins the pod to by name (as DaemonSet pods are); None if it names none."""
    named: list[str] | None = None
    for field in term.get("matchFields") or []:
        if field.get("key") == "metadata.name" and field.get("operator") == "In":
            values = field.get("values") or []
            named = [node for node in values if named is None or node in named]
    return named


def required_terms(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod's required nodeSelectorTerms (ORed), empty when it requires none."""
    affinity = (spec.get("affinity") or {}).get("nodeAffinity") or {}
    required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    return list(required.get("nodeSelectorTerms") or [])


def _require_granted(placement: Placement, spec: dict[str, Any]) -> None:
    # Terms are ORed and expressions ANDed: the pool expressions go into every term, so the
    # tenant's own choices stay and none of them can reach past the granted pools.
    expressions = _pool_expressions(placement)
    if not expressions:
        return
    affinity = spec.setdefault("affinity", {}).setdefault("nodeAffinity", {})
    required = affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    terms = required.get("nodeSelectorTerms") or [{}]
    for term in terms:
        own = term.get("matchExpressions") or []
        term["matchExpressions"] = own + [item for item in expressions if item not in own]
    required["nodeSelectorTerms"] = terms


def _pool_expressions(placement: Placement) -> list[dict[str, Any]]:
    label = placement.pool_label
    expressions = []
    if placement.allowed_pools:
        expressions.append({"key": label, "operator": "In", "values": [*placement.allowed_pools]})
    # A pool both granted and dedicated to another tenant stays shut (the operator reports the
    # conflict); with no grant list, every pool dedicated to another tenant is shut.
    shut = sorted(
        placement.foreign_dedicated & set(placement.allowed_pools)
        if placement.allowed_pools
        else placement.foreign_dedicated
    )
    if shut:
        expressions.append({"key": label, "operator": "NotIn", "values": shut})
    return expressions


def _constrains_pool(placement: Placement, spec: dict[str, Any]) -> bool:
    # Naming a node names its pool too.
    if placement.pool_label in (spec.get("nodeSelector") or {}) or spec.get("nodeName"):
        return True
    return any(
        named_nodes(term) is not None
        or any(
            item.get("key") == placement.pool_label for item in term.get("matchExpressions") or []
        )
        for term in required_terms(spec)
    )


def _in_values(placement: Placement, term: dict[str, Any]) -> Iterable[str]:
    for expression in term.get("matchExpressions") or []:
        if expression.get("key") == placement.pool_label and expression.get("operator") == "In":
            yield from expression.get("values") or ()


def _choices(placement: Placement) -> str:
    granted = granted_pools(placement)
    if granted is None:
        return "it may use any pool not dedicated to another cluster"
    return "it may use: " + ", ".join(pool for pool in placement.allowed_pools if pool in granted)


def _meets(pools: Pools, targets: frozenset[str]) -> bool:
    return bool(targets) if pools is None else bool(pools & targets)


def _evicts_for_link(toleration: dict[str, Any]) -> bool:
    # An empty effect matches NoExecute too; NoSchedule tolerations only affect scheduling.
    return toleration.get("key") in (UNREACHABLE, NOT_READY) and toleration.get("effect") in (
        None,
        "",
        "NoExecute",
    )


def _autonomy_toleration(key: str, placement: Placement) -> dict[str, Any]:
    toleration: dict[str, Any] = {"key": key, "operator": "Exists", "effect": "NoExecute"}
    if placement.autonomy_seconds is not None:
        toleration["tolerationSeconds"] = placement.autonomy_seconds
    return toleration
