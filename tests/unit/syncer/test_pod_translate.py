"""Unit tests for `atoll.syncer.pods.translate`: the super pod and the patch keeping it in step."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from atoll.core import naming
from atoll.syncer import mapping
from atoll.syncer.pods import placement as placements
from atoll.syncer.pods import quota, translate
from support import downward

UID = "6f1c3a52-0d8e-4c5b-9a7e-2b1d4f6e8c90"
POD_UID = "0b7d2e14-93a1-4f6c-8e25-7c4a9d1b3f08"
LABEL = "apps.openyurt.io/nodepool"
TENANT = mapping.Tenant("dev", "team-a", UID, "https://vc.example:6443")
PLACEMENT = placements.Placement(
    pool_label=LABEL,
    allowed_pools=("hangzhou", "cloud"),
    default_pool=None,
    dedicated_pools=frozenset(),
    foreign_dedicated=frozenset(),
    edge_pools=frozenset({"hangzhou"}),
    autonomy_seconds=86400,
    vc_uid=UID,
)
SECRET = "app-token-x7k2q"


def context(token_secret: str | None = SECRET) -> translate.PodContext:
    return translate.PodContext(TENANT, PLACEMENT, "10.0.0.5", 31443, token_secret)


def api_access_volume(*extra_items: dict[str, Any]) -> dict[str, Any]:
    """The projected volume the tenant API server gives every pod that mounts a token."""
    return {
        "name": "kube-api-access-5xq9z",
        "projected": {
            "defaultMode": 420,
            "sources": [
                {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                {
                    "configMap": {
                        "name": "kube-root-ca.crt",
                        "items": [{"key": "ca.crt", "path": "ca.crt"}],
                    }
                },
                {
                    "downwardAPI": {
                        "items": [
                            {
                                "path": "namespace",
                                "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"},
                            },
                            *extra_items,
                        ]
                    }
                },
            ],
        },
    }


def container(name: str = "app", image: str = "nginx:1.27", **fields: Any) -> dict[str, Any]:
    return {"name": name, "image": image, **fields}


def tenant_pod(**spec: Any) -> dict[str, Any]:
    """A tenant pod as read back from the tenant API server, with `spec` fields over it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": "app",
            "generateName": "app-",
            "namespace": "web",
            "uid": POD_UID,
            "resourceVersion": "4711",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": {"app": "web", "atoll.dev/vc-uid": "forged", "atoll.dev/role": "tenant"},
            "annotations": {"note": "kept", "atoll.dev/tenant-uid": "x", "atoll.dev/owner": "x"},
            "ownerReferences": [{"kind": "ReplicaSet", "name": "app-5d8f", "uid": "rs"}],
            "finalizers": ["example.com/hold"],
            "managedFields": [{"manager": "kube-controller-manager"}],
        },
        "spec": {
            "serviceAccountName": "builder",
            "containers": [container()],
            "volumes": [api_access_volume()],
            **spec,
        },
        "status": {"phase": "Pending", "qosClass": "BestEffort"},
    }


def super_spec(pod: dict[str, Any], token_secret: str | None = SECRET) -> dict[str, Any]:
    spec: dict[str, Any] = translate.super_pod(context(token_secret), pod)["spec"]
    return spec


def env_of(item: dict[str, Any]) -> dict[str, Any]:
    return {entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in item["env"]}


def super_ns(name: str) -> str:
    return mapping.super_namespace(TENANT, name)


# --- metadata -----------------------------------------------------------------------------


def test_super_pod_metadata_is_mapped_and_owned_with_nothing_forged_or_server_set() -> None:
    result = translate.super_pod(context(), tenant_pod())

    assert result["apiVersion"] == "v1"
    assert result["kind"] == "Pod"
    expected = mapping.super_metadata(TENANT, tenant_pod())
    expected["annotations"][translate.TENANT_ANNOTATIONS] = "note"
    assert result["metadata"] == expected
    assert result["metadata"]["namespace"] == super_ns("web")
    assert result["metadata"]["labels"] == {"app": "web", **TENANT.labels}
    assert result["metadata"]["annotations"][mapping.TENANT_UID] == POD_UID
    assert result["metadata"]["annotations"]["note"] == "kept"
    assert "atoll.dev/owner" not in result["metadata"]["annotations"]
    for field in (
        "ownerReferences",
        "finalizers",
        "resourceVersion",
        "uid",
        "creationTimestamp",
        "managedFields",
        "generateName",
    ):
        assert field not in result["metadata"]
    assert "status" not in result


def test_super_pod_leaves_the_tenant_pod_untouched() -> None:
    pod = tenant_pod(
        affinity={"podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [{}]}}
    )
    before = copy.deepcopy(pod)

    translate.super_pod(context(), pod)

    assert pod == before


# --- spec ---------------------------------------------------------------------------------


def test_super_pod_never_mounts_a_super_token_and_keeps_the_service_account() -> None:
    spec = super_spec(tenant_pod(automountServiceAccountToken=True))

    assert spec["automountServiceAccountToken"] is False
    assert spec["serviceAccountName"] == "builder"


@pytest.mark.parametrize(
    ("fields", "kept", "dropped"),
    [
        pytest.param({"nodeName": "edge-1"}, {"nodeName": "edge-1"}, (), id="node-name-set"),
        pytest.param({}, {}, ("nodeName",), id="node-name-unset"),
        pytest.param(
            {"priorityClassName": "high", "priority": 1000, "preemptionPolicy": "Never"},
            {"priorityClassName": "high"},
            ("priority", "preemptionPolicy"),
            id="priority-from-class",
        ),
        pytest.param(
            {"runtimeClassName": "kata", "overhead": {"cpu": "250m"}},
            {"runtimeClassName": "kata"},
            ("overhead",),
            id="overhead-from-runtime-class",
        ),
        pytest.param(
            {"readinessGates": [{"conditionType": "example.com/lb"}]},
            {"readinessGates": [{"conditionType": "example.com/lb"}]},
            (),
            id="readiness-gates",
        ),
        pytest.param(
            {"ephemeralContainers": [container("debug")]}, {}, ("ephemeralContainers",), id="eph"
        ),
    ],
)
def test_super_pod_copies_the_spec_but_what_the_super_server_derives(
    fields: dict[str, Any], kept: dict[str, Any], dropped: tuple[str, ...]
) -> None:
    spec = super_spec(tenant_pod(**fields))

    assert {key: spec[key] for key in kept} == kept
    assert not set(dropped) & set(spec)


def test_super_pod_is_fenced_into_the_tenants_pools() -> None:
    spec = super_spec(tenant_pod())

    assert placements.required_terms(spec) == [
        {"matchExpressions": [{"key": LABEL, "operator": "In", "values": ["hangzhou", "cloud"]}]}
    ]
    assert {item["key"] for item in spec["tolerations"]} == {
        placements.UNREACHABLE,
        placements.NOT_READY,
    }


# --- service-account token ----------------------------------------------------------------


def test_the_token_volume_reads_the_tenant_token_secret() -> None:
    labels_item = {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}
    pod = tenant_pod(volumes=[api_access_volume(labels_item), {"name": "data", "emptyDir": {}}])

    volumes = super_spec(pod)["volumes"]

    assert volumes == [
        {
            "name": "kube-api-access-5xq9z",
            "projected": {
                "defaultMode": 420,
                "sources": [
                    {
                        "secret": {
                            "name": SECRET,
                            "items": [
                                {"key": "token", "path": "token"},
                                {"key": "ca.crt", "path": "ca.crt"},
                                {"key": "namespace", "path": "namespace"},
                            ],
                        }
                    },
                    {"downwardAPI": {"items": [labels_item]}},
                ],
            },
        },
        {"name": "data", "emptyDir": {}},
    ]


def test_a_token_at_another_path_keeps_its_path() -> None:
    volume = {
        "name": "vault-token",
        "projected": {"sources": [{"serviceAccountToken": {"path": "vault", "audience": "v"}}]},
    }

    (result,) = super_spec(tenant_pod(volumes=[volume]))["volumes"]

    (source,) = result["projected"]["sources"]
    assert source["secret"]["items"][0] == {"key": "token", "path": "vault"}


def test_a_token_without_a_token_secret_is_dropped_never_left_to_the_super_kubelet() -> None:
    labels_item = {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}

    (volume,) = super_spec(tenant_pod(volumes=[api_access_volume(labels_item)]), None)["volumes"]

    assert volume["projected"]["sources"] == [{"downwardAPI": {"items": [labels_item]}}]


@pytest.mark.parametrize(
    ("volumes", "expected"),
    [([api_access_volume()], True), ([{"name": "data", "emptyDir": {}}], False), ([], False)],
)
def test_mounts_token_tells_whether_the_pod_needs_a_token_secret(
    volumes: list[dict[str, Any]], expected: bool
) -> None:
    assert translate.mounts_token(tenant_pod(volumes=volumes)) is expected


def test_a_pod_without_a_token_needs_no_secret() -> None:
    spec = super_spec(tenant_pod(volumes=[{"name": "data", "emptyDir": {}}]), token_secret=None)

    assert spec["volumes"] == [{"name": "data", "emptyDir": {}}]


# --- environment --------------------------------------------------------------------------


def test_every_container_reaches_the_tenant_api_server() -> None:
    app = container(
        env=[
            {"name": "KUBERNETES_SERVICE_HOST", "value": "10.96.0.1"},
            {"name": "MODE", "value": "prod"},
            {"name": "KUBERNETES_SERVICE_PORT", "value": "443"},
        ]
    )
    pod = tenant_pod(containers=[app, container("sidecar")], initContainers=[container("init")])

    spec = super_spec(pod)

    expected = {
        "KUBERNETES_SERVICE_HOST": "10.0.0.5",
        "KUBERNETES_SERVICE_PORT": "31443",
        "KUBERNETES_SERVICE_PORT_HTTPS": "31443",
    }
    for item in [*spec["containers"], *spec["initContainers"]]:
        names = [entry["name"] for entry in item["env"]]
        assert len(names) == len(set(names))
        assert env_of(item).items() >= expected.items()
    assert env_of(spec["containers"][0])["MODE"] == "prod"


def test_the_downward_api_tells_the_tenant_namespace_and_uid() -> None:
    def field(name: str, path: str) -> dict[str, Any]:
        return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}

    env = [
        field("NS", "metadata.namespace"),
        field("UID", "metadata.uid"),
        field("N", "spec.nodeName"),
    ]
    pod = translate.super_pod(context(), tenant_pod(containers=[container(env=env)]))

    values = env_of(pod["spec"]["containers"][0])
    assert downward.resolve(pod, values["NS"]["fieldRef"]["fieldPath"]) == "web"
    assert downward.resolve(pod, values["UID"]["fieldRef"]["fieldPath"]) == POD_UID
    assert values["N"] == {"fieldRef": {"fieldPath": "spec.nodeName"}}


def test_downward_api_files_tell_the_tenant_namespace_and_uid() -> None:
    def item(path: str) -> dict[str, Any]:
        return {"path": path, "fieldRef": {"apiVersion": "v1", "fieldPath": path}}

    fields = ["metadata.namespace", "metadata.uid", "metadata.name", "metadata.labels"]
    volumes = [
        {"name": "info", "downwardAPI": {"items": [item(path) for path in fields]}},
        {
            "name": "mixed",
            "projected": {"sources": [{"downwardAPI": {"items": [item(fields[0])]}}]},
        },
    ]
    pod = translate.super_pod(context(), tenant_pod(volumes=volumes))

    info, mixed = pod["spec"]["volumes"]
    files = {
        entry["path"]: downward.resolve(pod, entry["fieldRef"]["fieldPath"])
        for entry in info["downwardAPI"]["items"]
    }
    (projected,) = mixed["projected"]["sources"][0]["downwardAPI"]["items"]

    assert files["metadata.namespace"] == "web"
    assert files["metadata.uid"] == POD_UID
    assert files["metadata.name"] == "app"
    assert info["downwardAPI"]["items"][3]["fieldRef"]["fieldPath"] == "metadata.labels"
    assert downward.resolve(pod, projected["fieldRef"]["fieldPath"]) == "web"
    assert projected["fieldRef"]["apiVersion"] == "v1"


# --- pod affinity -------------------------------------------------------------------------


def affinity_term(**fields: Any) -> dict[str, Any]:
    return {"labelSelector": {"matchLabels": {"app": "db"}}, "topologyKey": "zone", **fields}


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        pytest.param(affinity_term(), affinity_term(), id="own-namespace"),
        pytest.param(
            affinity_term(namespaces=["web", "db"]),
            affinity_term(namespaces=[super_ns("web"), super_ns("db")]),
            id="namespaces-mapped",
        ),
        pytest.param(
            affinity_term(namespaceSelector={}),
            affinity_term(namespaceSelector={"matchLabels": {naming.VC_UID: UID}}),
            id="all-namespaces-of-the-tenant",
        ),
        pytest.param(
            affinity_term(
                namespaceSelector={
                    "matchLabels": {"team": "a", naming.VC_UID: "another-tenant"},
                    "matchExpressions": [
                        {"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["db"]}
                    ],
                }
            ),
            affinity_term(
                namespaceSelector={
                    "matchLabels": {"team": "a", naming.VC_UID: UID},
                    "matchExpressions": [
                        {
                            "key": "kubernetes.io/metadata.name",
                            "operator": "In",
                            "values": [super_ns("db")],
                        }
                    ],
                }
            ),
            id="selector-confined",
        ),
        pytest.param(
            affinity_term(namespaceSelector={"matchLabels": {"kubernetes.io/metadata.name": "db"}}),
            affinity_term(
                namespaceSelector={
                    "matchLabels": {
                        "kubernetes.io/metadata.name": super_ns("db"),
                        naming.VC_UID: UID,
                    }
                }
            ),
            id="selector-by-name-mapped",
        ),
    ],
)
def test_pod_affinity_terms_are_scoped_to_the_tenant(
    term: dict[str, Any], expected: dict[str, Any]
) -> None:
    affinity = {
        "podAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]},
        "podAntiAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "podAffinityTerm": copy.deepcopy(term)}
            ]
        },
    }

    result = super_spec(tenant_pod(affinity=affinity))["affinity"]

    assert result["podAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"] == [expected]
    (preferred,) = result["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert preferred == {"weight": 10, "podAffinityTerm": expected}


# --- DNS ----------------------------------------------------------------------------------

DNS = translate.DnsSettings(nameserver="10.96.0.10", domain="cluster.local")
NDOTS = {"name": "ndots", "value": "5"}


def dns_spec(pod: dict[str, Any], dns: translate.DnsSettings | None = DNS) -> dict[str, Any]:
    context_with_dns = translate.PodContext(TENANT, PLACEMENT, "10.0.0.5", 31443, SECRET, dns)
    spec: dict[str, Any] = translate.super_pod(context_with_dns, pod)["spec"]
    return spec


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({}, id="unset-means-cluster-first"),
        pytest.param({"dnsPolicy": "ClusterFirst"}, id="cluster-first"),
        pytest.param(
            {"dnsPolicy": "ClusterFirstWithHostNet", "hostNetwork": True}, id="with-host-net"
        ),
    ],
)
def test_cluster_dns_searches_the_super_namespace_only(fields: dict[str, Any]) -> None:
    spec = dns_spec(tenant_pod(**fields))

    assert spec["dnsPolicy"] == "None"
    assert spec["dnsConfig"] == {
        "nameservers": ["10.96.0.10"],
        "searches": [f"{super_ns('web')}.svc.cluster.local"],
        "options": [NDOTS],
    }


def test_the_tenants_own_dns_config_is_kept_after_ours() -> None:
    own = {
        "nameservers": ["192.0.2.53", "10.96.0.10"],
        "searches": ["corp.example"],
        "options": [{"name": "ndots", "value": "2"}, {"name": "edns0"}],
    }

    spec = dns_spec(tenant_pod(dnsConfig=own))

    assert spec["dnsConfig"] == {
        "nameservers": ["10.96.0.10", "192.0.2.53"],
        "searches": [f"{super_ns('web')}.svc.cluster.local", "corp.example"],
        "options": own["options"],
    }


def test_dns_config_stays_within_the_apis_limits() -> None:
    own = {
        "nameservers": ["192.0.2.1", "192.0.2.2", "192.0.2.3"],
        "searches": [f"s{index}.example" for index in range(40)],
    }

    config = dns_spec(tenant_pod(dnsConfig=own))["dnsConfig"]

    assert config["nameservers"] == ["10.96.0.10", "192.0.2.1", "192.0.2.2"]
    assert len(config["searches"]) == translate.MAX_SEARCHES
    assert config["searches"][0] == f"{super_ns('web')}.svc.cluster.local"


def test_the_super_domain_is_the_one_searched() -> None:
    spec = dns_spec(tenant_pod(), translate.DnsSettings("10.32.0.10", "super.internal"))

    assert spec["dnsConfig"]["searches"] == [f"{super_ns('web')}.svc.super.internal"]


@pytest.mark.parametrize(
    ("fields", "dns"),
    [
        pytest.param({"dnsPolicy": "Default"}, DNS, id="default"),
        pytest.param(
            {"dnsPolicy": "None", "dnsConfig": {"nameservers": ["192.0.2.53"]}}, DNS, id="none"
        ),
        pytest.param({"dnsPolicy": "ClusterFirst", "hostNetwork": True}, DNS, id="host-net"),
        pytest.param({"dnsPolicy": "ClusterFirst"}, None, id="no-super-dns-known"),
    ],
)
def test_pods_not_on_cluster_dns_keep_their_policy(
    fields: dict[str, Any], dns: translate.DnsSettings | None
) -> None:
    spec = dns_spec(tenant_pod(**fields), dns)

    assert spec.get("dnsPolicy") == fields["dnsPolicy"]
    assert spec.get("dnsConfig") == fields.get("dnsConfig")


# --- needs_update -------------------------------------------------------------------------


def existing(desired: dict[str, Any]) -> dict[str, Any]:
    """`desired` as the super API server hands it back: with server fields and status."""
    result = copy.deepcopy(desired)
    result["metadata"] |= {"uid": "super-uid", "resourceVersion": "9"}
    result["metadata"]["annotations"]["cni.example/ip"] = "10.1.2.3"
    result["status"] = {"phase": "Running"}
    return result


def test_an_unchanged_pod_needs_no_update() -> None:
    desired = translate.super_pod(context(), tenant_pod())

    assert translate.needs_update(desired, existing(desired)) is None


def test_the_mutable_parts_are_patched() -> None:
    current = existing(translate.super_pod(context(), tenant_pod()))
    pod = tenant_pod(
        containers=[container(image="nginx:1.28")],
        activeDeadlineSeconds=600,
        tolerations=[{"key": "gpu", "operator": "Exists"}],
    )
    pod["metadata"]["labels"] = {"tier": "front"}
    pod["metadata"]["annotations"]["note"] = "changed"
    desired = translate.super_pod(context(), pod)

    patch = translate.needs_update(desired, current)

    assert patch == {
        "metadata": {
            "labels": {"tier": "front", "app": None},
            "annotations": {"note": "changed"},
        },
        "spec": {
            "containers": [{"name": "app", "image": "nginx:1.28"}],
            "activeDeadlineSeconds": 600,
            "tolerations": [
                *current["spec"]["tolerations"],
                {"key": "gpu", "operator": "Exists"},
            ],
        },
    }


def test_an_annotation_the_tenant_removed_goes_and_super_side_ones_stay() -> None:
    pod = tenant_pod()
    pod["metadata"]["annotations"]["team"] = "shop"
    current = existing(translate.super_pod(context(), pod))
    del pod["metadata"]["annotations"]["team"]

    patch = translate.needs_update(translate.super_pod(context(), pod), current)

    # The CNI plugin's annotation (see `existing`) was never the tenant's: it stays.
    assert patch == {
        "metadata": {"annotations": {"team": None, translate.TENANT_ANNOTATIONS: "note"}}
    }


def test_the_last_tenant_annotation_goes_with_its_record_and_then_nothing_is_patched() -> None:
    pod = tenant_pod()
    current = existing(translate.super_pod(context(), pod))
    pod["metadata"]["annotations"] = {}

    patch = translate.needs_update(translate.super_pod(context(), pod), current)

    assert patch == {
        "metadata": {"annotations": {"note": None, translate.TENANT_ANNOTATIONS: None}}
    }
    for key in ("note", translate.TENANT_ANNOTATIONS):
        del current["metadata"]["annotations"][key]
    assert translate.needs_update(translate.super_pod(context(), pod), current) is None


def test_a_super_pod_without_a_record_loses_no_annotation() -> None:
    # Made before the record was kept: nothing says which annotations were the tenant's.
    current = existing(translate.super_pod(context(), tenant_pod()))
    del current["metadata"]["annotations"][translate.TENANT_ANNOTATIONS]
    current["metadata"]["annotations"]["team"] = "shop"

    patch = translate.needs_update(translate.super_pod(context(), tenant_pod()), current)

    assert patch == {"metadata": {"annotations": {translate.TENANT_ANNOTATIONS: "note"}}}


def test_image_patches_name_only_the_changed_containers() -> None:
    # A strategic merge patch merges containers by name: the others stay as they are.
    pod = tenant_pod(initContainers=[container("a"), container("b", image="busybox:1")])
    current = existing(translate.super_pod(context(), pod))
    pod["spec"]["initContainers"][1]["image"] = "busybox:2"

    patch = translate.needs_update(translate.super_pod(context(), pod), current)

    assert patch == {"spec": {"initContainers": [{"name": "b", "image": "busybox:2"}]}}


def test_the_cached_form_is_enough_to_decide_updates() -> None:
    pod = tenant_pod(
        initContainers=[container("a")],
        activeDeadlineSeconds=600,
        tolerations=[{"key": "gpu", "operator": "Exists"}],
        nodeSelector={"apps.openyurt.io/nodepool": "edge-a"},
    )
    current = existing(translate.super_pod(context(), pod))
    current["spec"]["nodeName"] = "edge-a-1"
    slim = translate.cached_form(copy.deepcopy(current))
    pod["spec"]["containers"][0]["image"] = "nginx:1.28"
    pod["metadata"]["labels"] = {"tier": "front"}
    desired = translate.super_pod(context(), pod)

    assert translate.needs_update(desired, slim) == translate.needs_update(desired, current)
    assert "volumes" not in slim["spec"]
    assert "env" not in slim["spec"]["containers"][0]
    assert slim["status"] == current["status"]
    assert slim["metadata"] == current["metadata"]
    for field in ("nodeName", "nodeSelector", "activeDeadlineSeconds", "tolerations"):
        assert slim["spec"][field] == current["spec"][field]
    assert quota.cost(slim) == quota.cost(current)
