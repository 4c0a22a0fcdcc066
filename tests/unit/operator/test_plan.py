"""Unit tests for `atoll.operator.plan`: defaults, explicit fields, versions and upgrades."""

from __future__ import annotations

import re
from typing import Any

import pytest

from atoll.core import naming
from atoll.operator import plan as plans

UID = "6f1c3a52-0d8e-4c5b-9a7e-2b1d4f6e8c90"
VERSION = "v1.37.2"


def virtual_cluster(
    spec: dict[str, Any] | None = None,
    *,
    name: str = "dev",
    namespace: str = "team-a",
    uid: str = UID,
) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": namespace, "uid": uid}, "spec": spec or {}}


def cluster_version(version: str = VERSION, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": "default"}, "spec": {"kubernetesVersion": version, **spec}}


def control_plane(**fields: Any) -> dict[str, Any]:
    return {"controlPlane": fields}


def build(
    vc: dict[str, Any],
    cv: dict[str, Any] | None = None,
    provisioner: plans.ProvisionerName = "process",
) -> plans.ControlPlanePlan:
    return plans.build(vc, cv or cluster_version(), default_provisioner=provisioner)


@pytest.mark.parametrize(
    "vc",
    [
        virtual_cluster(),
        {"metadata": virtual_cluster()["metadata"]},
        {"metadata": virtual_cluster()["metadata"], "spec": None},
        virtual_cluster({"controlPlane": None}),
        virtual_cluster(control_plane(datastore=None, service=None, extraArgs=None)),
    ],
    ids=["empty-spec", "no-spec", "null-spec", "null-control-plane", "null-sections"],
)
@pytest.mark.parametrize("provisioner", ["process", "kubernetes"])
def test_an_empty_spec_gives_the_documented_defaults(
    vc: dict[str, Any], provisioner: plans.ProvisionerName
) -> None:
    plan = build(vc, provisioner=provisioner)

    assert plan == plans.ControlPlanePlan(
        vc_name="dev",
        vc_namespace="team-a",
        vc_uid=UID,
        provisioner=provisioner,
        kubernetes_version=VERSION,
        datastore="etcd",
        datastore_mode="dedicated",
        storage_size="1Gi",
        storage_class=None,
        replicas=1,
        service_type="ClusterIP",
        node_port=None,
        service_annotations={},
        resources={},
        extra_args={"apiServer": (), "controllerManager": (), "datastore": ()},
        cert_sans=(),
        endpoint=None,
        images={"apiServer": "", "controllerManager": "", "etcd": "", "kine": ""},
    )


def test_explicit_fields_are_honoured() -> None:
    resources = {"apiServer": {"requests": {"cpu": "250m"}}}
    vc = virtual_cluster(
        control_plane(
            provisioner="kubernetes",
            datastore={
                "type": "kine",
                "mode": "shared",
                "storage": {"size": "5Gi", "storageClassName": "fast"},
            },
            replicas=3,
            service={
                "type": "NodePort",
                "nodePort": 30443,
                "annotations": {"example.com/lb": "internal"},
            },
            resources=resources,
            certSANs=["api.example.com", "203.0.113.7"],
            endpoint="api.example.com:6443",
        )
    )
    cv = cluster_version(
        "v1.36.4",
        apiServer={"image": "registry.example/kube-apiserver:v1.36.4"},
        controllerManager={"image": "registry.example/kcm:v1.36.4"},
        etcd={"image": "registry.example/etcd:3.6.0"},
        kine={"image": "registry.example/kine:0.13.0"},
    )

    plan = build(vc, cv, provisioner="process")

    assert plan == plans.ControlPlanePlan(
        vc_name="dev",
        vc_namespace="team-a",
        vc_uid=UID,
        provisioner="kubernetes",
        kubernetes_version="v1.36.4",
        datastore="kine",
        datastore_mode="shared",
        storage_size="5Gi",
        storage_class="fast",
        replicas=3,
        service_type="NodePort",
        node_port=30443,
        service_annotations={"example.com/lb": "internal"},
        resources=resources,
        extra_args={"apiServer": (), "controllerManager": (), "datastore": ()},
        cert_sans=("api.example.com", "203.0.113.7"),
        endpoint="api.example.com:6443",
        images={
            "apiServer": "registry.example/kube-apiserver:v1.36.4",
            "controllerManager": "registry.example/kcm:v1.36.4",
            "etcd": "registry.example/etcd:3.6.0",
            "kine": "registry.example/kine:0.13.0",
        },
    )


def test_extra_args_put_the_cluster_versions_first_and_the_virtual_clusters_after() -> None:
    vc = virtual_cluster(
        control_plane(
            extraArgs={
                "apiServer": ["--v=4", "--audit-log-maxage=7"],
                "controllerManager": ["--concurrent-deployment-syncs=10"],
                "datastore": ["--quota-backend-bytes=4294967296"],
            }
        )
    )
    cv = cluster_version(
        apiServer={"extraArgs": ["--v=2", "--profiling=false"]},
        controllerManager={"extraArgs": ["--profiling=false"]},
    )

    plan = build(vc, cv)

    assert plan.extra_args == {
        "apiServer": ("--v=2", "--profiling=false", "--v=4", "--audit-log-maxage=7"),
        "controllerManager": ("--profiling=false", "--concurrent-deployment-syncs=10"),
        "datastore": ("--quota-backend-bytes=4294967296",),
    }


def test_plan_values_are_copies_not_views_of_the_spec() -> None:
    annotations = {"example.com/lb": "internal"}
    vc = virtual_cluster(control_plane(service={"annotations": annotations}))

    plan = build(vc)
    annotations["example.com/lb"] = "external"

    assert plan.service_annotations == {"example.com/lb": "internal"}


@pytest.mark.parametrize(
    ("namespace", "name", "uid"),
    [
        ("team-a", "dev", UID),
        ("team-b", "dev", "0b7d2e14-93a1-4f6c-8e25-7c4a9d1b3f08"),
        ("a" * 63, "b" * 63, UID),
    ],
    ids=["short", "other-tenant", "longest"],
)
def test_cluster_namespace_and_labels_come_from_naming(namespace: str, name: str, uid: str) -> None:
    plan = build(virtual_cluster(namespace=namespace, name=name, uid=uid))

    assert plan.cluster_namespace == naming.cluster_root(namespace, name, uid)
    assert plan.labels == naming.owner_labels(namespace, name, uid)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("v1.37.2", (1, 37, 2)), ("1.37.2", (1, 37, 2)), ("v2.0.10", (2, 0, 10))],
)
def test_parse_version_reads_major_minor_patch(text: str, expected: tuple[int, int, int]) -> None:
    assert plans.parse_version(text) == expected


@pytest.mark.parametrize(
    "text", ["", "latest", "v1", "v1.37", "v1.37.2.1", "v1.x.2", "v1.37.2-rc.0", "vv1.37.2"]
)
def test_parse_version_rejects_garbage_as_invalid_version(text: str) -> None:
    with pytest.raises(plans.PlanError, match=re.escape("is not a version like v1.37.2")) as caught:
        plans.parse_version(text)

    assert caught.value.reason == "InvalidVersion"
    assert repr(text) in str(caught.value)


def test_build_rejects_a_cluster_version_with_a_garbage_version() -> None:
    with pytest.raises(plans.PlanError, match="'stable' is not a version") as caught:
        build(virtual_cluster(), cluster_version("stable"))

    assert caught.value.reason == "InvalidVersion"


def test_minor_follows_the_kubernetes_version() -> None:
    assert build(virtual_cluster(), cluster_version("v1.36.9")).minor == (1, 36)


@pytest.mark.parametrize(
    ("running", "wanted"),
    [
        (None, "v1.37.2"),
        ("", "v1.37.2"),
        ("v1.36.3", "v1.37.2"),
        ("v1.37.2", "v1.37.2"),
        ("v1.37.2", "v1.37.5"),
        ("v1.37.5", "v1.38.0"),
    ],
    ids=["new", "no-version-yet", "next-minor", "same", "patch", "next-minor-from-patch"],
)
def test_check_upgrade_allows(running: str | None, wanted: str) -> None:
    plans.check_upgrade(running, wanted)


@pytest.mark.parametrize(
    ("running", "wanted", "reason", "advice"),
    [
        (
            "v1.37.2",
            "v1.36.9",
            "DowngradeRefused",
            "set the version back to v1.37.2 or newer",
        ),
        ("v1.37.2", "v1.37.1", "DowngradeRefused", "set the version back to v1.37.2 or newer"),
        ("v2.0.0", "v1.37.2", "DowngradeRefused", "set the version back to v2.0.0 or newer"),
        ("v1.35.0", "v1.37.2", "MinorVersionSkipped", "upgrade to v1.36 first"),
        ("v1.37.2", "v2.0.0", "MinorVersionSkipped", "upgrade to v1.38 first"),
    ],
    ids=["minor-downgrade", "patch-downgrade", "major-downgrade", "skipped-minor", "new-major"],
)
def test_check_upgrade_refuses_and_says_what_to_do(
    running: str, wanted: str, reason: str, advice: str
) -> None:
    with pytest.raises(plans.PlanError, match=re.escape(advice)) as caught:
        plans.check_upgrade(running, wanted)

    assert caught.value.reason == reason
    assert f"runs {running}" in str(caught.value)
    assert wanted in str(caught.value)


def test_check_upgrade_rejects_a_garbage_running_version() -> None:
    with pytest.raises(plans.PlanError, match="is not a version") as caught:
        plans.check_upgrade("unknown", VERSION)

    assert caught.value.reason == "InvalidVersion"
