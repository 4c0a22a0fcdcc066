"""What users get wrong: refused by the schema, or Failed with the fix, then recovered."""

from __future__ import annotations

import pytest

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]


def cluster_version(name: str, version: str) -> dict[str, object]:
    return {
        "apiVersion": atoll_api.API_VERSION,
        "kind": "ClusterVersion",
        "metadata": {"name": name},
        "spec": {"kubernetesVersion": version},
    }


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"controlPlane": {"provisioner": "docker"}}, "spec.controlPlane.provisioner"),
        ({"controlPlane": {"replicas": 9}}, "spec.controlPlane.replicas"),
        ({"deletionPolicy": "Forget"}, "spec.deletionPolicy"),
        ({"controlPlane": {"extraArgs": {"apiServer": ["rm -rf /"]}}}, "extraArgs"),
        ({"nodePools": [{"name": "a"}], "defaultNodePool": "b"}, "defaultNodePool"),
    ],
)
async def test_schema_refuses_invalid_specs_naming_the_field(
    api: kube_client.Client, namespace: str, spec: dict[str, object], field: str
) -> None:
    with pytest.raises(errors.Invalid) as refused:
        await vcs.create_vc(api, namespace, "invalid", spec)

    assert field in str(refused.value)


async def test_provisioner_cannot_change_after_creation(
    api: kube_client.Client, namespace: str
) -> None:
    await vcs.create_vc(api, namespace, "fixed", {"controlPlane": {"provisioner": "process"}})

    with pytest.raises(errors.Invalid, match="provisioner cannot change"):
        await api.patch(
            atoll_api.VIRTUALCLUSTERS.path(namespace, "fixed"),
            {"spec": {"controlPlane": {"provisioner": "kubernetes"}}},
        )


async def test_unknown_cluster_version_fails_then_recovers_once_it_exists(
    api: kube_client.Client, namespace: str
) -> None:
    version_name = f"later-{namespace}"
    created = await vcs.create_vc(api, namespace, "waiting", {"clusterVersion": version_name})

    failed = await vcs.wait_phase(api, namespace, "waiting", "Failed")
    ready = vcs.condition(failed, "Ready")
    assert ready["reason"] == "ClusterVersionNotFound"
    assert version_name in ready["message"]
    assert vcs.tenant_processes(created["metadata"]["uid"]) == []
    listing = await api.get(resources.EVENTS.path(namespace))
    assert ("ClusterVersionNotFound", ready["message"]) in vcs.events_of(listing, "waiting")

    await api.create(atoll_api.CLUSTERVERSIONS.path(), cluster_version(version_name, "v1.37.2"))
    try:
        await vcs.wait_phase(api, namespace, "waiting", "Running", timeout=90)
    finally:
        await api.delete(atoll_api.CLUSTERVERSIONS.path(name=version_name))


async def test_unknown_node_pool_fails_without_partial_objects(
    api: kube_client.Client, namespace: str
) -> None:
    created = await vcs.create_vc(api, namespace, "lost", {"nodePools": [{"name": "atlantis"}]})

    failed = await vcs.wait_phase(api, namespace, "lost", "Failed")

    ready = vcs.condition(failed, "Ready")
    assert ready["reason"] == "NodePoolNotFound"
    assert "atlantis" in ready["message"]
    assert "edge-a" in ready["message"]
    assert vcs.tenant_processes(created["metadata"]["uid"]) == []
    with pytest.raises(errors.NotFound):
        await api.get(resources.NAMESPACES.path(name=failed["status"]["clusterNamespace"]))


async def test_version_without_binaries_fails_and_says_which(
    api: kube_client.Client, namespace: str
) -> None:
    version_name = f"old-{namespace}"
    await api.create(atoll_api.CLUSTERVERSIONS.path(), cluster_version(version_name, "v1.36.3"))
    try:
        created = await vcs.create_vc(api, namespace, "ancient", {"clusterVersion": version_name})
        failed = await vcs.wait_phase(api, namespace, "ancient", "Failed")
    finally:
        await api.delete(atoll_api.CLUSTERVERSIONS.path(name=version_name))

    ready = vcs.condition(failed, "Ready")
    assert ready["reason"] == "BinaryMissing"
    assert "v1.36.3" in ready["message"]
    assert vcs.tenant_processes(created["metadata"]["uid"]) == []


async def test_downgrade_is_refused_with_a_condition(
    api: kube_client.Client, namespace: str
) -> None:
    version_name = f"pinned-{namespace}"
    await api.create(atoll_api.CLUSTERVERSIONS.path(), cluster_version(version_name, "v1.37.2"))
    try:
        await vcs.create_vc(api, namespace, "steady", {"clusterVersion": version_name})
        await vcs.wait_phase(api, namespace, "steady", "Running")

        await api.patch(
            atoll_api.CLUSTERVERSIONS.path(name=version_name),
            {"spec": {"kubernetesVersion": "v1.36.3"}},
        )

        async def refused() -> bool:
            vc = await vcs.read_vc(api, namespace, "steady")
            ready = [item for item in vc["status"]["conditions"] if item["type"] == "Ready"]
            return bool(ready) and ready[0]["reason"] == "DowngradeRefused"

        assert await wait.until(refused, timeout=90, what="the downgrade to be refused")
        vc = await vcs.read_vc(api, namespace, "steady")
        assert "v1.37.2" in vcs.condition(vc, "Ready")["message"]
        assert vc["status"]["version"] == "v1.37.2"
    finally:
        await api.delete(atoll_api.CLUSTERVERSIONS.path(name=version_name))
