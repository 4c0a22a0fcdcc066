"""Unit tests for `atoll.syncer.pods.placement`: refusing pods, fencing them into their pools."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from atoll.syncer import mapping
from atoll.syncer.pods import placement as placements

UID = "6f1c3a52-0d8e-4c5b-9a7e-2b1d4f6e8c90"
LABEL = "apps.openyurt.io/nodepool"
NODES = {"edge-1": "hangzhou", "cloud-1": "cloud", "edge-7": "shanghai", "private-1": "vault"}
UNREACHABLE_300 = {
    "key": placements.UNREACHABLE,
    "operator": "Exists",
    "effect": "NoExecute",
    "tolerationSeconds": 300,
}


def placement(
    allowed: tuple[str, ...] = ("hangzhou", "cloud"),
    *,
    default: str | None = None,
    dedicated: frozenset[str] = frozenset(),
    foreign: frozenset[str] = frozenset({"vault"}),
    edge: frozenset[str] = frozenset({"hangzhou", "shanghai"}),
    seconds: int | None = 86400,
) -> placements.Placement:
    return placements.Placement(
        pool_label=LABEL,
        allowed_pools=allowed,
        default_pool=default,
        dedicated_pools=dedicated,
        foreign_dedicated=foreign,
        edge_pools=edge,
        autonomy_seconds=seconds,
        vc_uid=UID,
    )


def pool_term(operator: str, *pools: str, **extra: Any) -> dict[str, Any]:
    """A nodeSelectorTerm with one expression on the pool label (plus `extra` fields)."""
    return {"matchExpressions": [{"key": LABEL, "operator": operator, "values": [*pools]}], **extra}


def daemon_term(node: str) -> dict[str, Any]:
    """The term a DaemonSet controller gives its pod for one node."""
    return {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}


def tenant_pod(
    *,
    pool: str | None = None,
    terms: list[dict[str, Any]] | None = None,
    node: str | None = None,
    tolerations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    if pool is not None:
        spec["nodeSelector"] = {LABEL: pool, "disk": "ssd"}
    if terms is not None:
        spec["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": terms}
            }
        }
    if node is not None:
        spec["nodeName"] = node
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"metadata": {"name": "app", "namespace": "web", "uid": "pod-uid"}, "spec": spec}


def applied(place: placements.Placement, pod: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = copy.deepcopy(pod["spec"])
    placements.apply(place, spec)
    return spec


def terms_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return placements.required_terms(spec)


def tolerations_for(spec: dict[str, Any], key: str) -> list[dict[str, Any]]:
    return [item for item in spec.get("tolerations") or [] if item.get("key") == key]


IN_GRANTED = {"key": LABEL, "operator": "In", "values": ["hangzhou", "cloud"]}


# --- placement_of -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("autonomy", "seconds"),
    [({}, 86400), ({"tolerationSeconds": 600}, 600), ({"unlimited": True}, None)],
)
def test_placement_of_reads_pools_default_and_autonomy_from_the_spec(
    autonomy: dict[str, Any], seconds: int | None
) -> None:
    spec = {
        "nodePools": [{"name": "hangzhou", "dedicated": True}, {"name": "cloud"}],
        "defaultNodePool": "cloud",
        "autonomy": autonomy,
    }
    tenant = mapping.Tenant("dev", "team-a", UID, "https://vc", spec, pool_label="belongs-to")

    result = placements.placement_of(
        tenant, dedicated_elsewhere=frozenset({"vault"}), edge_pools=frozenset({"hangzhou"})
    )

    assert result == placements.Placement(
        pool_label="belongs-to",
        allowed_pools=("hangzhou", "cloud"),
        default_pool="cloud",
        dedicated_pools=frozenset({"hangzhou"}),
        foreign_dedicated=frozenset({"vault"}),
        edge_pools=frozenset({"hangzhou"}),
        autonomy_seconds=seconds,
        vc_uid=UID,
    )


def test_placement_of_an_empty_spec_allows_any_pool_for_a_day() -> None:
    tenant = mapping.Tenant("dev", "team-a", UID, "https://vc")

    result = placements.placement_of(
        tenant, dedicated_elsewhere=frozenset(), edge_pools=frozenset()
    )

    assert result.allowed_pools == ()
    assert result.default_pool is None
    assert result.autonomy_seconds == placements.DEFAULT_AUTONOMY_SECONDS
    assert result.pool_label == LABEL


# --- refusal ------------------------------------------------------------------------------

CHOICES = "it may use: hangzhou, cloud"
ANY = "it may use any pool not dedicated to another cluster"


@pytest.mark.parametrize(
    ("place", "pod", "expected"),
    [
        pytest.param(placement(), tenant_pod(), None, id="no-pool-named"),
        pytest.param(placement(), tenant_pod(pool="cloud"), None, id="selector-granted"),
        pytest.param(
            placement(),
            tenant_pod(pool="shanghai"),
            f"pool shanghai is not granted to this cluster; {CHOICES}",
            id="selector-not-granted",
        ),
        pytest.param(placement(()), tenant_pod(pool="shanghai"), None, id="selector-open-grant"),
        pytest.param(
            placement(()),
            tenant_pod(pool="vault"),
            f"pool vault is not granted to this cluster; {ANY}",
            id="selector-foreign-dedicated",
        ),
        pytest.param(
            placement(),
            tenant_pod(terms=[pool_term("In", "shanghai", "beijing")]),
            f"pools beijing, shanghai are not granted to this cluster; {CHOICES}",
            id="affinity-not-granted",
        ),
        pytest.param(
            placement(),
            tenant_pod(terms=[pool_term("In", "shanghai", "hangzhou")]),
            None,
            id="affinity-one-granted",
        ),
        pytest.param(
            placement(),
            tenant_pod(terms=[pool_term("In", "shanghai"), pool_term("In", "cloud")]),
            None,
            id="affinity-another-term-granted",
        ),
        pytest.param(
            placement(),
            tenant_pod(terms=[pool_term("NotIn", "hangzhou", "cloud")]),
            f"the pod's node affinity excludes every pool granted to this cluster; {CHOICES}",
            id="affinity-excludes-all",
        ),
        pytest.param(
            placement(()), tenant_pod(terms=[pool_term("NotIn", "cloud")]), None, id="open-notin"
        ),
        pytest.param(
            placement(()),
            tenant_pod(terms=[pool_term("In", "vault")]),
            f"pool vault is not granted to this cluster; {ANY}",
            id="open-affinity-foreign",
        ),
        pytest.param(placement(), tenant_pod(node="edge-1"), None, id="node-granted"),
        pytest.param(
            placement(),
            tenant_pod(node="edge-7"),
            f"node edge-7 is in pool shanghai, which is not granted to this cluster; {CHOICES}",
            id="node-not-granted",
        ),
        pytest.param(
            placement(),
            tenant_pod(node="ghost"),
            f"node ghost belongs to no known pool; {CHOICES}",
            id="node-unknown",
        ),
        pytest.param(
            placement(), tenant_pod(terms=[daemon_term("edge-1")]), None, id="daemon-granted"
        ),
        pytest.param(
            placement(),
            tenant_pod(terms=[daemon_term("edge-7")]),
            f"node edge-7 is in pool shanghai, which is not granted to this cluster; {CHOICES}",
            id="daemon-not-granted",
        ),
        pytest.param(
            placement(),
            tenant_pod(terms=[daemon_term("ghost")]),
            f"node ghost belongs to no known pool; {CHOICES}",
            id="daemon-node-unknown",
        ),
        pytest.param(
            placement(),
            tenant_pod(tolerations=[{"key": placements.DEDICATED_TAINT_KEY, "operator": "Exists"}]),
            "toleration atoll.dev/dedicated is reserved to atoll; remove it",
            id="forged-dedicated-toleration",
        ),
        pytest.param(
            placement(("vault",)),
            tenant_pod(),
            "no pool granted to this cluster is available: vault dedicated to others",
            id="every-pool-dedicated-elsewhere",
        ),
    ],
)
def test_refusal_names_the_pool_asked_for_and_the_pools_allowed(
    place: placements.Placement, pod: dict[str, Any], expected: str | None
) -> None:
    assert placements.refusal(place, pod, NODES) == expected


# --- apply: node affinity and default pool ------------------------------------------------


def test_apply_requires_the_granted_pools_when_the_pod_requires_nothing() -> None:
    spec = applied(placement(), tenant_pod())

    assert terms_of(spec) == [{"matchExpressions": [IN_GRANTED]}]


def test_apply_keeps_every_tenant_term_and_adds_the_pool_expression_to_each() -> None:
    gpu = {"key": "gpu", "operator": "Exists"}
    by_name = {"key": "metadata.name", "operator": "In", "values": ["edge-1"]}
    pod = tenant_pod(
        terms=[
            {"matchExpressions": [gpu]},
            pool_term("In", "hangzhou"),
            {"matchFields": [by_name]},
        ]
    )

    spec = applied(placement(), pod)

    assert terms_of(spec) == [
        {"matchExpressions": [gpu, IN_GRANTED]},
        {"matchExpressions": [pool_term("In", "hangzhou")["matchExpressions"][0], IN_GRANTED]},
        {"matchFields": [by_name], "matchExpressions": [IN_GRANTED]},
    ]


@pytest.mark.parametrize(
    ("place", "expected"),
    [
        pytest.param(
            placement(()),
            [{"matchExpressions": [{"key": LABEL, "operator": "NotIn", "values": ["vault"]}]}],
            id="open-grant-shuts-foreign-dedicated",
        ),
        pytest.param(placement((), foreign=frozenset()), [], id="nothing-to-fence"),
        pytest.param(
            placement(("cloud", "vault")),
            [
                {
                    "matchExpressions": [
                        {"key": LABEL, "operator": "In", "values": ["cloud", "vault"]},
                        {"key": LABEL, "operator": "NotIn", "values": ["vault"]},
                    ]
                }
            ],
            id="granted-but-dedicated-elsewhere-stays-shut",
        ),
    ],
)
def test_apply_fences_out_pools_dedicated_to_other_tenants(
    place: placements.Placement, expected: list[dict[str, Any]]
) -> None:
    assert terms_of(applied(place, tenant_pod())) == expected


def test_apply_twice_changes_nothing_more() -> None:
    pod = tenant_pod(terms=[pool_term("In", "hangzhou")], tolerations=[UNREACHABLE_300])
    once = applied(placement(default="cloud", dedicated=frozenset({"hangzhou"})), pod)

    twice = applied(placement(default="cloud", dedicated=frozenset({"hangzhou"})), {"spec": once})

    assert twice == once


@pytest.mark.parametrize(
    ("pod", "default", "expected"),
    [
        pytest.param(tenant_pod(), "cloud", "cloud", id="none-named"),
        pytest.param(tenant_pod(pool="hangzhou"), "cloud", "hangzhou", id="selector-named"),
        pytest.param(tenant_pod(terms=[pool_term("In", "hangzhou")]), "cloud", None, id="affinity"),
        pytest.param(tenant_pod(node="edge-1"), "cloud", None, id="node-named"),
        pytest.param(tenant_pod(terms=[daemon_term("edge-1")]), "cloud", None, id="daemon-pod"),
        pytest.param(tenant_pod(), None, None, id="no-default"),
    ],
)
def test_apply_sends_pods_that_name_no_pool_to_the_default_pool(
    pod: dict[str, Any], default: str | None, expected: str | None
) -> None:
    spec = applied(placement(default=default), pod)

    assert (spec.get("nodeSelector") or {}).get(LABEL) == expected


def test_apply_keeps_the_tenants_other_node_selector_keys() -> None:
    spec = applied(placement(default="cloud"), tenant_pod(pool="hangzhou"))

    assert spec["nodeSelector"] == {LABEL: "hangzhou", "disk": "ssd"}


# --- apply: tolerations -------------------------------------------------------------------

DEDICATED_TOLERATION = {
    "key": placements.DEDICATED_TAINT_KEY,
    "operator": "Equal",
    "value": UID,
    "effect": "NoSchedule",
}


@pytest.mark.parametrize(
    ("place", "pod", "tolerated"),
    [
        pytest.param(
            placement(dedicated=frozenset({"hangzhou"})), tenant_pod(), True, id="may-land-there"
        ),
        pytest.param(
            placement(dedicated=frozenset({"hangzhou"})),
            tenant_pod(pool="hangzhou"),
            True,
            id="chose-it",
        ),
        pytest.param(
            placement(dedicated=frozenset({"hangzhou"})),
            tenant_pod(pool="cloud"),
            False,
            id="chose-another-pool",
        ),
        pytest.param(
            placement(dedicated=frozenset({"hangzhou"}), default="cloud"),
            tenant_pod(),
            False,
            id="default-pool-not-dedicated",
        ),
        pytest.param(placement(), tenant_pod(), False, id="no-dedicated-pool"),
    ],
)
def test_apply_tolerates_the_dedicated_taint_only_for_this_tenants_dedicated_pools(
    place: placements.Placement, pod: dict[str, Any], tolerated: bool
) -> None:
    spec = applied(place, pod)

    expected = [DEDICATED_TOLERATION] if tolerated else []
    assert tolerations_for(spec, placements.DEDICATED_TAINT_KEY) == expected


def autonomy(seconds: int | None) -> list[dict[str, Any]]:
    result = []
    for key in (placements.UNREACHABLE, placements.NOT_READY):
        item: dict[str, Any] = {"key": key, "operator": "Exists", "effect": "NoExecute"}
        if seconds is not None:
            item["tolerationSeconds"] = seconds
        result.append(item)
    return result


@pytest.mark.parametrize(
    ("place", "pod", "expected"),
    [
        pytest.param(placement(), tenant_pod(), autonomy(86400), id="may-land-on-edge"),
        pytest.param(placement(seconds=None), tenant_pod(), autonomy(None), id="unlimited"),
        pytest.param(placement(()), tenant_pod(), autonomy(86400), id="open-grant-with-edge"),
        pytest.param(placement(("cloud",)), tenant_pod(), [], id="cloud-only-tenant"),
        pytest.param(placement(), tenant_pod(pool="cloud"), [], id="pinned-to-cloud"),
        pytest.param(placement(edge=frozenset()), tenant_pod(), [], id="no-edge-pool"),
        pytest.param(
            placement((), edge=frozenset({"vault"})), tenant_pod(), [], id="edge-only-foreign"
        ),
    ],
)
def test_apply_keeps_edge_capable_pods_bound_through_link_loss(
    place: placements.Placement, pod: dict[str, Any], expected: list[dict[str, Any]]
) -> None:
    spec = applied(place, pod)

    keys = {placements.UNREACHABLE, placements.NOT_READY}
    assert [item for item in spec.get("tolerations") or [] if item["key"] in keys] == expected


def test_apply_replaces_the_tenants_own_link_tolerations_and_keeps_the_rest() -> None:
    gpu = {"key": "gpu", "operator": "Exists", "effect": "NoSchedule"}
    no_schedule = {"key": placements.UNREACHABLE, "operator": "Exists", "effect": "NoSchedule"}
    not_ready_any = {"key": placements.NOT_READY, "operator": "Exists"}
    pod = tenant_pod(tolerations=[gpu, UNREACHABLE_300, no_schedule, not_ready_any])

    spec = applied(placement(seconds=3600), pod)

    assert spec["tolerations"] == [gpu, no_schedule, *autonomy(3600)]


def test_apply_leaves_a_cloud_pods_own_link_tolerations_alone() -> None:
    spec = applied(placement(("cloud",)), tenant_pod(tolerations=[UNREACHABLE_300]))

    assert spec["tolerations"] == [UNREACHABLE_300]
