"""Edge pools end to end: placement in the granted pools, refusals, autonomy through a cut link.

The super-cluster is shared by the whole session: a test that cuts a pool's link restores it
in a `finally` and waits for the pool's nodes to be Ready again, whatever happened.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources
from atoll.local import cluster
from support import cluster as support_cluster
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

KubeObject = kube_client.KubeObject
POOL_LABEL = "apps.openyurt.io/nodepool"
NODE_GRACE = 40  # the super controller-manager's node grace period, `atoll up`'s default
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


def condition(obj: KubeObject, type_: str) -> dict[str, Any]:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((item for item in conditions if item["type"] == type_), {})


def link_tolerations(pod: KubeObject) -> list[dict[str, Any]]:
    return [
        item
        for item in pod["spec"].get("tolerations") or []
        if item.get("key") in (UNREACHABLE, NOT_READY)
    ]


async def node_pools(api: kube_client.Client) -> dict[str, str]:
    listing = await api.get(resources.NODES.path())
    return {
        node["metadata"]["name"]: (node["metadata"].get("labels") or {}).get(POOL_LABEL, "")
        for node in listing["items"]
    }


async def wait_pool_ready(
    api: kube_client.Client, pool: str, ready: str, timeout: float
) -> list[KubeObject]:
    """Wait until every node of `pool` has its Ready condition at `ready`."""

    async def reached() -> list[KubeObject] | None:
        listing = await api.get(
            resources.NODES.path(), params={"labelSelector": f"{POOL_LABEL}={pool}"}
        )
        nodes = listing["items"]
        settled = all(condition(node, "Ready").get("status") == ready for node in nodes)
        return nodes if nodes and settled else None

    return await wait.until(reached, timeout=timeout, what=f"nodes of {pool} Ready={ready}")


def read_until(
    client: kube_client.Client, path: str, accept: Callable[[KubeObject], bool]
) -> Callable[[], Awaitable[KubeObject | None]]:
    """A check for `wait.until`: the object at `path` once `accept` likes it."""

    async def check() -> KubeObject | None:
        try:
            current = await client.get(path)
        except errors.NotFound:
            return None
        return current if accept(current) else None

    return check


@contextlib.asynccontextmanager
async def witnessed(
    client: kube_client.Client, namespace: str, name: str
) -> AsyncIterator[list[tuple[str, KubeObject]]]:
    """Every change of one pod while the block runs, from a list-and-watch that misses none."""
    source = informer.Informer(
        client, resources.PODS, namespace=namespace, field_selector=f"metadata.name={name}"
    )
    changes: list[tuple[str, KubeObject]] = []

    async def follow() -> None:
        async for change in source.events():
            changes.append(change)

    task = asyncio.create_task(follow())

    async def synced() -> bool:
        return source.synced.is_set()

    try:
        await wait.until(synced, timeout=30, what=f"a watch on pod {namespace}/{name}")
        yield changes
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def run_cli(*arguments: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "atoll.cli",
        *arguments,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_pods_of_a_cluster_granted_one_pool_run_only_there(
    api: kube_client.Client, on_edge_a: tenants.TenantPair
) -> None:
    names = [tenants.unique("placed") for _ in range(4)]
    for name in names:
        await on_edge_a.api.create(resources.PODS.path("default"), tenants.pod(name))
    for name in names:
        await tenants.wait_for_pod(on_edge_a.api, "default", name)

    pools = await node_pools(api)
    super_namespace = on_edge_a.super_namespace("default")
    for name in names:
        super_pod = await api.get(resources.PODS.path(super_namespace, name))
        tenant_pod = await on_edge_a.api.get(resources.PODS.path("default", name))
        affinity = super_pod["spec"]["affinity"]["nodeAffinity"]
        terms = affinity["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]

        assert pools[super_pod["spec"]["nodeName"]] == "edge-a"
        assert tenant_pod["spec"]["nodeName"] == super_pod["spec"]["nodeName"]
        assert all(
            {"key": POOL_LABEL, "operator": "In", "values": ["edge-a"]} in term["matchExpressions"]
            for term in terms
        )


async def test_a_pod_asking_for_a_pool_not_granted_is_refused_and_told_why(
    api: kube_client.Client, on_edge_a: tenants.TenantPair
) -> None:
    name = tenants.unique("astray")
    created = await on_edge_a.api.create(
        resources.PODS.path("default"), tenants.pod(name, nodeSelector={POOL_LABEL: "edge-b"})
    )
    uid = created["metadata"]["uid"]

    refused = await wait.until(
        read_until(
            on_edge_a.api,
            resources.PODS.path("default", name),
            lambda pod: condition(pod, "atoll.dev/Synced").get("reason") == "PlacementRefused",
        ),
        timeout=60,
        what=f"a PlacementRefused condition on {name}",
    )

    async def told() -> KubeObject | None:
        events = await on_edge_a.api.get(
            resources.EVENTS.path("default"), params={"fieldSelector": f"involvedObject.uid={uid}"}
        )
        return next(
            (item for item in events["items"] if item["reason"] == "PlacementRefused"), None
        )

    event = await wait.until(told, timeout=30, what=f"a PlacementRefused Event on {name}")
    synced = condition(refused, "atoll.dev/Synced")
    assert synced["status"] == "False"
    assert "edge-b" in synced["message"]
    assert event["type"] == "Warning"
    assert "pool edge-b is not granted" in event["message"]
    assert "it may use: edge-a" in event["message"]
    assert refused["status"].get("phase") == "Pending"
    assert not refused["spec"].get("nodeName")
    with pytest.raises(errors.NotFound):
        await api.get(resources.PODS.path(on_edge_a.super_namespace("default"), name))


async def test_pods_stay_bound_through_a_cut_link_and_come_back_ready(
    api: kube_client.Client,
    super_cluster: support_cluster.SuperCluster,
    on_edge_b: tenants.TenantPair,
) -> None:
    name = tenants.unique("autonomous")
    tenant_path = resources.PODS.path("default", name)
    created = await on_edge_b.api.create(resources.PODS.path("default"), tenants.pod(name))
    uid = created["metadata"]["uid"]
    await tenants.wait_for_pod(on_edge_b.api, "default", name)
    super_namespace = on_edge_b.super_namespace("default")
    super_path = resources.PODS.path(super_namespace, name)
    super_pod = await api.get(super_path)
    node_name = super_pod["spec"]["nodeName"]

    # Armed for a dark node before anything happens: one day of NoExecute tolerations.
    assert (await node_pools(api))[node_name] == "edge-b"
    assert sorted(link_tolerations(super_pod), key=lambda item: item["key"]) == [
        {"key": NOT_READY, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 86400},
        {
            "key": UNREACHABLE,
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 86400,
        },
    ]

    async with (
        witnessed(on_edge_b.api, "default", name) as tenant_changes,
        witnessed(api, super_namespace, name) as super_changes,
    ):
        try:
            assert cluster.set_pool_link(super_cluster.folder, "edge-b", connected=False)
            await wait_pool_ready(api, "edge-b", "Unknown", timeout=NODE_GRACE + 80)

            # The super-cluster taints the silent node: only the tolerations keep the pod.
            await wait.until(
                read_until(
                    api,
                    resources.NODES.path(name=node_name),
                    lambda node: any(
                        taint["key"] == UNREACHABLE and taint["effect"] == "NoExecute"
                        for taint in node["spec"].get("taints") or []
                    ),
                ),
                timeout=30,
                what=f"the {UNREACHABLE} taint on {node_name}",
            )
            # The tenant sees the real condition of the node and of its pod.
            await wait.until(
                read_until(
                    on_edge_b.api,
                    resources.NODES.path(name=node_name),
                    lambda node: condition(node, "Ready").get("status") == "Unknown",
                ),
                timeout=60,
                what=f"virtual node {node_name} Ready=Unknown",
            )
            dark_pod = await wait.until(
                read_until(
                    on_edge_b.api,
                    tenant_path,
                    lambda pod: condition(pod, "Ready").get("status") == "False",
                ),
                timeout=60,
                what=f"tenant pod {name} Ready=False",
            )
            dark_super_pod = await api.get(super_path)

            assert dark_pod["metadata"]["uid"] == uid
            assert "deletionTimestamp" not in dark_pod["metadata"]
            assert dark_super_pod["metadata"]["uid"] == super_pod["metadata"]["uid"]
            assert "deletionTimestamp" not in dark_super_pod["metadata"]
            assert dark_super_pod["spec"]["nodeName"] == node_name

            assert cluster.set_pool_link(super_cluster.folder, "edge-b", connected=True)
            await wait_pool_ready(api, "edge-b", "True", timeout=90)
            back = await wait.until(
                read_until(
                    on_edge_b.api,
                    tenant_path,
                    lambda pod: (
                        pod["status"].get("phase") == "Running"
                        and condition(pod, "Ready").get("status") == "True"
                    ),
                ),
                timeout=90,
                what=f"tenant pod {name} Running and Ready again",
            )
            assert back["metadata"]["uid"] == uid
            assert back["spec"]["nodeName"] == node_name
        finally:
            cluster.set_pool_link(super_cluster.folder, "edge-b", connected=True)
            await wait_pool_ready(api, "edge-b", "True", timeout=90)

    # Never deleted, never recreated, on either side, at any moment of the outage.
    for changes, wanted_uid in (
        (tenant_changes, uid),
        (super_changes, super_pod["metadata"]["uid"]),
    ):
        assert changes, "the watch saw nothing"
        assert [kind for kind, _ in changes if kind == "DELETED"] == []
        assert {obj["metadata"]["uid"] for _, obj in changes} == {wanted_uid}
        assert [obj for _, obj in changes if obj["metadata"].get("deletionTimestamp")] == []


async def test_the_cli_lists_pools_and_refuses_an_unknown_one(
    super_cluster: support_cluster.SuperCluster,
) -> None:
    root = str(super_cluster.folder.root)
    cut_before = cluster.disconnected_pools(super_cluster.folder)

    code, out, err = await run_cli("pool", "list", "--state-dir", root, "-o", "json")
    assert code == 0, err
    listed = {item["name"]: item for item in json.loads(out)}
    assert {name: (item["type"], item["nodes"]) for name, item in listed.items()} == {
        "cloud": ("Cloud", 1),
        "edge-a": ("Edge", 2),
        "edge-b": ("Edge", 2),
    }
    assert all(item["connected"] == (name not in cut_before) for name, item in listed.items())
    assert all(isinstance(item["pods"], int) for item in listed.values())

    code, out, err = await run_cli("pool", "disconnect", "nowhere", "--state-dir", root)
    assert code == 1
    assert "nowhere" in err
    assert "cloud, edge-a, edge-b" in " ".join(err.split())
    assert cluster.disconnected_pools(super_cluster.folder) == cut_before
