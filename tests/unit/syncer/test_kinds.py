"""Unit tests for `atoll.syncer.kinds`: EndpointSlices and claims on their way down."""

from __future__ import annotations

from typing import Any

import pytest

from atoll.syncer import kinds, mapping, service_addresses

UID = "6f1c3a52-0d8e-4c5b-9a7e-2b1d4f6e8c90"
TENANT = mapping.Tenant("dev", "team-a", UID, "https://vc.example:6443")
SLICES = kinds.ENDPOINT_SLICE
CLAIMS = kinds.BY_NAME["PersistentVolumeClaim"]


def endpoint_slice(labels: dict[str, str], **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": {
            "name": "db-1",
            "namespace": "web",
            "uid": "slice-uid",
            "resourceVersion": "12",
            "labels": labels,
        },
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["192.0.2.9"], "conditions": {"ready": True}}],
        "ports": [{"name": "pg", "port": 5432, "protocol": "TCP"}],
        **fields,
    }


def claim(annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": "data",
            "namespace": "web",
            "uid": "claim-uid",
            "annotations": annotations,
        },
        "spec": {
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "1Gi"}},
            "volumeName": "pvc-tenant",
        },
    }


@pytest.mark.parametrize(
    ("labels", "wanted"),
    [
        pytest.param({kinds.SERVICE_NAME_LABEL: "db"}, True, id="hand-written"),
        pytest.param(
            {kinds.SERVICE_NAME_LABEL: "db", kinds.SLICE_MANAGER_LABEL: "example.com/ctl"},
            True,
            id="another-controllers",
        ),
        pytest.param(
            {
                kinds.SERVICE_NAME_LABEL: "db",
                kinds.SLICE_MANAGER_LABEL: "endpointslice-controller.k8s.io",
            },
            False,
            id="from-a-selector",
        ),
        pytest.param(
            {
                kinds.SERVICE_NAME_LABEL: "db",
                kinds.SLICE_MANAGER_LABEL: "endpointslicemirroring-controller.k8s.io",
            },
            False,
            id="mirrored-from-endpoints",
        ),
    ],
)
def test_only_slices_no_tenant_controller_made_go_down(
    labels: dict[str, str], wanted: bool
) -> None:
    assert SLICES.wants(endpoint_slice(labels)) is wanted
    assert SLICES.selectorless_only


def test_the_tenant_watch_leaves_out_the_controllers_slices() -> None:
    selector = SLICES.tenant_selector or ""

    assert selector.startswith(f"{kinds.SERVICE_NAME_LABEL},")
    for manager in kinds.TENANT_SLICE_MANAGERS:
        assert manager in selector
    assert "notin" in selector


def test_a_slice_belongs_to_the_service_its_label_names() -> None:
    assert SLICES.service_of(endpoint_slice({kinds.SERVICE_NAME_LABEL: "db"})) == "db"
    assert SLICES.service_of(endpoint_slice({})) is None


def test_a_slice_goes_down_with_its_service_label_and_an_ownership_record() -> None:
    tenant_slice = endpoint_slice({kinds.SERVICE_NAME_LABEL: "db", "tier": "data"})

    result = kinds.desired(SLICES, TENANT, tenant_slice)

    assert result["apiVersion"] == "discovery.k8s.io/v1"
    assert result["metadata"]["namespace"] == mapping.super_namespace(TENANT, "web")
    assert result["metadata"]["labels"] == {
        kinds.SERVICE_NAME_LABEL: "db",
        "tier": "data",
        **TENANT.labels,
    }
    assert result["metadata"]["annotations"][mapping.TENANT_UID] == "slice-uid"
    for field in ("addressType", "endpoints", "ports"):
        assert result[field] == tenant_slice[field]


def test_a_slice_endpoint_naming_a_tenant_pod_names_its_super_pod() -> None:
    reference = {"kind": "Pod", "namespace": "web", "name": "db-0", "uid": "tenant-pod-uid"}
    endpoint = {"addresses": ["10.1.0.7"], "targetRef": reference, "nodeName": "edge-1"}
    tenant_slice = endpoint_slice({kinds.SERVICE_NAME_LABEL: "db"}, endpoints=[endpoint])

    result = kinds.desired(SLICES, TENANT, tenant_slice)

    assert result["endpoints"] == [
        {
            "addresses": ["10.1.0.7"],
            "nodeName": "edge-1",
            "targetRef": {
                "kind": "Pod",
                "namespace": mapping.super_namespace(TENANT, "web"),
                "name": "db-0",
            },
        }
    ]
    assert tenant_slice["endpoints"][0]["targetRef"] == reference


def test_an_unchanged_slice_needs_no_patch() -> None:
    want = kinds.desired(SLICES, TENANT, endpoint_slice({kinds.SERVICE_NAME_LABEL: "db"}))
    have = {**want, "metadata": {**want["metadata"], "uid": "super", "generation": 1}}

    assert kinds.patch(SLICES, want, have) is None


BINDER = {
    "pv.kubernetes.io/bind-completed": "yes",
    "pv.kubernetes.io/bound-by-controller": "yes",
    "volume.kubernetes.io/storage-provisioner": "atoll.dev/simulated",
    "volume.beta.kubernetes.io/storage-provisioner": "atoll.dev/simulated",
}


def test_a_claim_goes_down_without_the_tenant_binders_annotations() -> None:
    result = kinds.desired(CLAIMS, TENANT, claim({**BINDER, "team": "db"}))

    assert result["metadata"]["annotations"]["team"] == "db"
    assert not set(BINDER) & set(result["metadata"]["annotations"])
    assert "volumeName" not in result["spec"]


def test_the_super_binders_annotations_are_neither_drift_nor_removed() -> None:
    want = kinds.desired(CLAIMS, TENANT, claim({"team": "db"}))
    have = {
        **want,
        "metadata": {**want["metadata"], "annotations": {**want["metadata"]["annotations"]}},
    }
    have["metadata"]["annotations"] |= {**BINDER, "pv.kubernetes.io/bind-completed": "yes"}

    assert kinds.patch(CLAIMS, want, have) is None


def test_a_changed_claim_annotation_is_patched_keeping_the_binders() -> None:
    want = kinds.desired(CLAIMS, TENANT, claim({"team": "db"}))
    have = {
        **want,
        "metadata": {
            **want["metadata"],
            "annotations": {**want["metadata"]["annotations"], "team": "old", "gone": "x"},
        },
    }
    have["metadata"]["annotations"] |= BINDER

    change = kinds.patch(CLAIMS, want, have)

    assert change is not None
    annotations = change["metadata"]["annotations"]
    assert annotations["team"] == "db"
    assert annotations["gone"] is None
    assert not set(BINDER) & set(annotations)


SERVICES = kinds.BY_NAME["Service"]
SLICED = mapping.Tenant(
    "dev", "team-a", UID, "https://vc.example:6443", service_range="10.112.16.0/20"
)


def tenant_service(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web", "namespace": "shop", "uid": "service-uid"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80, "nodePort": 30080}], **spec},
    }


@pytest.mark.parametrize(
    ("tenant", "spec", "expected"),
    [
        pytest.param(
            SLICED,
            {"clusterIP": "10.112.16.9", "clusterIPs": ["10.112.16.9"]},
            {"clusterIP": "10.112.16.9", "clusterIPs": ["10.112.16.9"]},
            id="from-its-slice",
        ),
        pytest.param(SLICED, {"clusterIP": "10.96.0.9"}, {}, id="outside-its-slice"),
        pytest.param(TENANT, {"clusterIP": "10.96.0.9"}, {}, id="a-tenant-without-a-slice"),
        pytest.param(
            TENANT,
            {"clusterIP": "None", "clusterIPs": ["None"]},
            {"clusterIP": "None", "clusterIPs": ["None"]},
            id="headless",
        ),
        pytest.param(SLICED, {}, {}, id="not-allocated-yet"),
    ],
)
def test_a_super_service_takes_the_tenants_address_only_from_its_slice(
    tenant: mapping.Tenant, spec: dict[str, Any], expected: dict[str, Any]
) -> None:
    want = kinds.desired(SERVICES, tenant, tenant_service(**spec))

    addresses = {
        key: want["spec"][key] for key in service_addresses.ADDRESSES if key in want["spec"]
    }
    assert addresses == expected
    assert want["spec"]["ports"] == [{"port": 80}]  # the super-cluster picks node ports


def test_a_different_super_address_is_neither_drift_nor_patched() -> None:
    want = kinds.desired(SERVICES, SLICED, tenant_service(clusterIP="10.112.16.9"))
    have = {**want, "spec": {**want["spec"], "clusterIP": "10.112.16.44"}}
    changed = {**want, "spec": {**want["spec"], "selector": {"app": "shop"}}}

    assert kinds.patch(SERVICES, want, have) is None
    patch = kinds.patch(SERVICES, changed, have)
    assert patch is not None
    assert not set(service_addresses.ADDRESSES) & set(patch["spec"])
