"""Unit tests for `atoll.syncer.cluster_objects`: which classes a tenant gets, and how."""

from __future__ import annotations

from typing import Any

import pytest

from atoll.syncer import cluster_objects

STORAGE = cluster_objects.STORAGE_CLASS
PRIORITY = cluster_objects.PRIORITY_CLASS
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"


def storage_class(name: str = "fast", *, labels: dict[str, str] | None = None) -> dict[str, Any]:
    """A super StorageClass as the super API server hands it back."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": name,
            "uid": "super-uid",
            "resourceVersion": "7",
            "creationTimestamp": "2025-01-01T00:00:00Z",
            "labels": labels or {},
            "annotations": {
                DEFAULT_CLASS: "true",
                "kubectl.kubernetes.io/last-applied-configuration": "{}",
            },
        },
        "provisioner": "example.com/disks",
        "parameters": {"tier": "ssd"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }


def priority_class(name: str = "batch", **fields: Any) -> dict[str, Any]:
    return {
        "apiVersion": "scheduling.k8s.io/v1",
        "kind": "PriorityClass",
        "metadata": {"name": name, "uid": "super-uid", "labels": {}},
        "value": 1000,
        "preemptionPolicy": "PreemptLowerPriority",
        **fields,
    }


def spec_allowing(**lists: list[str]) -> dict[str, Any]:
    return {"isolation": {**lists}}


PUBLIC = {cluster_objects.PUBLIC_LABEL: "true"}


@pytest.mark.parametrize(
    ("kind", "super_class", "tenant_spec", "expected"),
    [
        pytest.param(STORAGE, storage_class(labels=PUBLIC), {}, True, id="public"),
        pytest.param(
            STORAGE,
            storage_class(labels={cluster_objects.PUBLIC_LABEL: "false"}),
            {},
            False,
            id="labelled-not-public",
        ),
        pytest.param(STORAGE, storage_class(), {}, False, id="private"),
        pytest.param(
            STORAGE,
            storage_class(),
            spec_allowing(allowedStorageClasses=["fast"]),
            True,
            id="allowed-by-name",
        ),
        pytest.param(
            STORAGE,
            storage_class(),
            spec_allowing(allowedPriorityClasses=["fast"]),
            False,
            id="allowed-as-the-other-kind",
        ),
        pytest.param(
            PRIORITY,
            priority_class(),
            spec_allowing(allowedPriorityClasses=["batch"]),
            True,
            id="priority-allowed",
        ),
        pytest.param(
            STORAGE,
            {
                **storage_class(labels=PUBLIC),
                "metadata": {
                    "name": "fast",
                    "labels": PUBLIC,
                    "deletionTimestamp": "2025-01-01T00:00:00Z",
                },
            },
            {},
            False,
            id="being-deleted",
        ),
    ],
)
def test_a_tenant_gets_public_classes_and_those_its_cluster_allows(
    kind: cluster_objects.ClassKind,
    super_class: dict[str, Any],
    tenant_spec: dict[str, Any],
    expected: bool,
) -> None:
    assert cluster_objects.offered(kind, super_class, tenant_spec) is expected


def test_the_copy_has_the_name_fields_and_default_marking_of_the_super_class() -> None:
    copy = cluster_objects.tenant_copy(STORAGE, storage_class(labels=PUBLIC))

    assert copy == {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": "fast",
            "labels": {**PUBLIC, cluster_objects.COPY_LABEL: cluster_objects.COPY_VALUE},
            "annotations": {DEFAULT_CLASS: "true"},
        },
        "provisioner": "example.com/disks",
        "parameters": {"tier": "ssd"},
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "WaitForFirstConsumer",
        "allowVolumeExpansion": True,
    }
    assert cluster_objects.is_copy(copy)
    assert not cluster_objects.is_copy(storage_class())


def as_stored(copy: dict[str, Any]) -> dict[str, Any]:
    """A copy as the tenant API server hands it back."""
    return {**copy, "metadata": {**copy["metadata"], "uid": "tenant-uid", "resourceVersion": "3"}}


def test_a_copy_in_step_needs_nothing() -> None:
    want = cluster_objects.tenant_copy(PRIORITY, priority_class())

    assert cluster_objects.difference(PRIORITY, want, as_stored(want)) == (None, False)


def test_a_mutable_change_is_a_patch() -> None:
    have = as_stored(cluster_objects.tenant_copy(PRIORITY, priority_class()))
    want = cluster_objects.tenant_copy(PRIORITY, priority_class(description="nightly jobs"))

    change, recreate = cluster_objects.difference(PRIORITY, want, have)

    assert change == {"description": "nightly jobs"}
    assert recreate is False


def test_a_removed_label_is_removed_from_the_copy() -> None:
    have = as_stored(cluster_objects.tenant_copy(STORAGE, storage_class(labels={"tier": "a"})))
    want = cluster_objects.tenant_copy(STORAGE, storage_class())

    change, _recreate = cluster_objects.difference(STORAGE, want, have)

    assert change == {
        "metadata": {"labels": {"tier": None, cluster_objects.COPY_LABEL: "super-cluster"}}
    }


@pytest.mark.parametrize(
    ("kind", "before", "after"),
    [
        pytest.param(PRIORITY, priority_class(), priority_class(value=5), id="priority-value"),
        pytest.param(
            STORAGE,
            storage_class(),
            {**storage_class(), "parameters": {"tier": "hdd"}},
            id="storage-parameters",
        ),
    ],
)
def test_an_immutable_change_means_a_new_copy(
    kind: cluster_objects.ClassKind, before: dict[str, Any], after: dict[str, Any]
) -> None:
    have = as_stored(cluster_objects.tenant_copy(kind, before))
    want = cluster_objects.tenant_copy(kind, after)

    change, recreate = cluster_objects.difference(kind, want, have)

    assert change is not None
    assert recreate is True
