"""Unit tests for `atoll.syncer.volumes`: the tenant's copy of a bound super volume."""

from __future__ import annotations

from typing import Any

import pytest

from atoll.syncer import cluster_objects, volumes

SUPER_PATH = "/var/lib/atoll/volumes/pvc-1f2e"


def super_volume(**spec: Any) -> dict[str, Any]:
    """A provisioned super volume, bound to the super claim."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": "pvc-1f2e",
            "uid": "super-volume-uid",
            "annotations": {"pv.kubernetes.io/provisioned-by": "atoll.dev/simulated"},
            "labels": {"atoll.dev/simulated": "true"},
        },
        "spec": {
            "capacity": {"storage": "2Gi"},
            "accessModes": ["ReadWriteOnce"],
            "volumeMode": "Filesystem",
            "storageClassName": "atoll-local",
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": SUPER_PATH, "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": []}},
            "claimRef": {
                "kind": "PersistentVolumeClaim",
                "namespace": "dev-team-a-1a2b3c-web",
                "name": "data",
                "uid": "super-claim-uid",
            },
            **spec,
        },
        "status": {"phase": "Bound"},
    }


TENANT_CLAIM = {
    "metadata": {"name": "data", "namespace": "web", "uid": "tenant-claim-uid"},
    "spec": {"accessModes": ["ReadWriteOnce"]},
}


def test_the_copy_matches_the_super_volume_and_is_pre_bound_to_the_tenant_claim() -> None:
    copy = volumes.tenant_volume(super_volume(), TENANT_CLAIM)

    assert copy == {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": "pvc-1f2e",
            "labels": {cluster_objects.COPY_LABEL: cluster_objects.COPY_VALUE},
        },
        "spec": {
            "capacity": {"storage": "2Gi"},
            "accessModes": ["ReadWriteOnce"],
            "volumeMode": "Filesystem",
            "storageClassName": "atoll-local",
            "persistentVolumeReclaimPolicy": "Delete",
            "csi": {"driver": volumes.STAND_IN_DRIVER, "volumeHandle": "pvc-1f2e"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": "web",
                "name": "data",
                "uid": "tenant-claim-uid",
            },
        },
    }
    assert cluster_objects.is_copy(copy)


def test_the_copy_shows_nothing_of_the_super_clusters_storage() -> None:
    copy = volumes.tenant_volume(super_volume(), TENANT_CLAIM)

    assert SUPER_PATH not in repr(copy)
    assert "dev-team-a-1a2b3c-web" not in repr(copy)
    assert "super-claim-uid" not in repr(copy)


def test_optional_fields_travel_when_set() -> None:
    spec = volumes.tenant_volume(
        super_volume(mountOptions=["noatime"], volumeAttributesClassName="gold"), TENANT_CLAIM
    )["spec"]

    assert spec["mountOptions"] == ["noatime"]
    assert spec["volumeAttributesClassName"] == "gold"


def as_stored(copy: dict[str, Any]) -> dict[str, Any]:
    """The copy as the tenant API server hands it back, bound by the tenant's binder."""
    stored = {**copy, "spec": {**copy["spec"]}, "status": {"phase": "Bound"}}
    stored["spec"]["claimRef"] = {**copy["spec"]["claimRef"], "resourceVersion": "40"}
    stored["metadata"] = {**copy["metadata"], "finalizers": ["kubernetes.io/pv-protection"]}
    return stored


def test_a_copy_bound_by_the_tenant_binder_is_in_step() -> None:
    want = volumes.tenant_volume(super_volume(), TENANT_CLAIM)

    assert volumes.spec_change(want, as_stored(want)) is None


def test_a_grown_super_volume_grows_the_copy() -> None:
    have = as_stored(volumes.tenant_volume(super_volume(), TENANT_CLAIM))
    want = volumes.tenant_volume(super_volume(capacity={"storage": "5Gi"}), TENANT_CLAIM)

    assert volumes.spec_change(want, have) == {"spec": {"capacity": {"storage": "5Gi"}}}


@pytest.mark.parametrize(
    ("claim", "expected"),
    [
        pytest.param(
            {"spec": {"volumeName": "pvc-1f2e"}, "status": {"phase": "Bound"}},
            "pvc-1f2e",
            id="bound",
        ),
        pytest.param(
            {"spec": {"volumeName": "pvc-1f2e"}, "status": {"phase": "Pending"}},
            None,
            id="named-not-bound",
        ),
        pytest.param({"spec": {}, "status": {"phase": "Pending"}}, None, id="pending"),
        pytest.param({"spec": {}}, None, id="new"),
    ],
)
def test_only_a_bound_claim_has_a_volume_to_show(
    claim: dict[str, Any], expected: str | None
) -> None:
    assert volumes.bound_volume_name(claim) == expected
