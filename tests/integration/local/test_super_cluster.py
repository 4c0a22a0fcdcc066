"""The local super-cluster is real Kubernetes: API, controllers, scheduler, simulated nodes."""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest

from atoll.core import paths, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

POOL_LABEL = "apps.openyurt.io/nodepool"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def make_namespace(api: kube_client.Client) -> str:
    name = unique("test")
    await api.create(
        resources.NAMESPACES.path(),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    return name


async def test_version_reports_pinned_kubernetes(api: kube_client.Client) -> None:
    version = await api.version()

    assert version["gitVersion"] == paths.KUBE_VERSION
    assert (version["major"], version["minor"]) == ("1", "37")


async def test_simulated_nodes_are_ready_in_their_pools(api: kube_client.Client) -> None:
    nodes = (await api.get(resources.NODES.path()))["items"]

    pools = {node["metadata"]["name"]: node["metadata"]["labels"][POOL_LABEL] for node in nodes}
    assert pools == {
        "cloud-0": "cloud",
        "edge-a-0": "edge-a",
        "edge-a-1": "edge-a",
        "edge-b-0": "edge-b",
        "edge-b-1": "edge-b",
    }
    for node in nodes:
        ready = [item for item in node["status"]["conditions"] if item["type"] == "Ready"]
        assert ready[0]["status"] == "True", node["metadata"]["name"]


async def test_configmap_is_created_watched_and_deleted(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)
    collection = resources.CONFIGMAPS.path(namespace)
    listing = await api.get(collection)
    seen: list[tuple[str, str]] = []

    async def watch_until_deleted() -> None:
        async for event_type, obj in api.watch(
            collection, resource_version=listing["metadata"]["resourceVersion"]
        ):
            # The controller-manager adds kube-root-ca.crt to every namespace meanwhile.
            if obj["metadata"]["name"] != "settings":
                continue
            seen.append((event_type, obj["metadata"]["name"]))
            if event_type == "DELETED":
                return

    watcher = asyncio.create_task(watch_until_deleted())
    created = await api.create(
        collection, {"metadata": {"name": "settings"}, "data": {"colour": "blue"}}
    )
    fetched = await api.get(resources.CONFIGMAPS.path(namespace, "settings"))
    await api.delete(
        resources.CONFIGMAPS.path(namespace, "settings"), uid=created["metadata"]["uid"]
    )
    await asyncio.wait_for(watcher, timeout=30)

    assert fetched["data"] == {"colour": "blue"}
    assert seen == [("ADDED", "settings"), ("DELETED", "settings")]
    with pytest.raises(errors.NotFound):
        await api.get(resources.CONFIGMAPS.path(namespace, "settings"))


async def test_delete_with_stale_uid_is_refused(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)
    await api.create(resources.CONFIGMAPS.path(namespace), {"metadata": {"name": "kept"}})

    with pytest.raises(errors.Conflict):
        await api.delete(resources.CONFIGMAPS.path(namespace, "kept"), uid=str(uuid.uuid4()))

    assert (await api.get(resources.CONFIGMAPS.path(namespace, "kept")))["metadata"]["name"]


async def test_pod_is_scheduled_onto_chosen_pool_and_runs(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)
    # The ServiceAccount admission plugin refuses pods until the default account exists.
    await wait.until(
        lambda: _exists(api, resources.SERVICEACCOUNTS.path(namespace, "default")),
        timeout=30,
        what="the default ServiceAccount",
    )
    pod = {
        "metadata": {"name": "web"},
        "spec": {
            "nodeSelector": {POOL_LABEL: "edge-b"},
            "containers": [{"name": "web", "image": "nginx:1.27"}],
        },
    }
    await api.create(resources.PODS.path(namespace), pod)

    async def running() -> kube_client.KubeObject | None:
        current = await api.get(resources.PODS.path(namespace, "web"))
        return current if current.get("status", {}).get("phase") == "Running" else None

    running_pod = await wait.until(running, timeout=60, what="pod web Running")

    assert running_pod["spec"]["nodeName"] in {"edge-b-0", "edge-b-1"}
    assert running_pod["status"]["podIP"]
    assert running_pod["status"]["hostIP"].startswith("127.")
    ready = {item["type"]: item["status"] for item in running_pod["status"]["conditions"]}
    assert ready["Ready"] == "True"


async def test_namespace_deletion_completes(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)
    await api.create(resources.CONFIGMAPS.path(namespace), {"metadata": {"name": "content"}})

    await api.delete(resources.NAMESPACES.path(name=namespace))

    async def gone() -> bool:
        return not await _exists(api, resources.NAMESPACES.path(name=namespace))

    # Only a running namespace controller empties the namespace and removes its finalizer.
    assert await wait.until(gone, timeout=60, what=f"namespace {namespace} to be deleted")


async def test_controller_manager_issues_service_account_tokens(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)

    await wait.until(
        lambda: _exists(api, resources.SERVICEACCOUNTS.path(namespace, "default")),
        timeout=30,
        what="the default ServiceAccount",
    )
    token = await api.create(
        resources.SERVICEACCOUNTS.path(namespace, "default", "token"),
        {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {"expirationSeconds": 600},
        },
    )

    assert token["status"]["token"].count(".") == 2


async def _exists(api: kube_client.Client, path: str) -> bool:
    with contextlib.suppress(errors.NotFound):
        await api.get(path)
        return True
    return False
