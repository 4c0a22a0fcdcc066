"""Past the autonomy window the super-cluster evicts, and the tenant is told why."""

from __future__ import annotations

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.local import cluster
from support import cluster as support_cluster
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]
POOL_LABEL = "apps.openyurt.io/nodepool"


async def test_pod_evicted_after_the_autonomy_window_fails_in_the_tenant_with_the_reason(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> None:
    pair = await tenants.running_tenant(
        api, "brief", {"nodePools": [{"name": "edge-b"}], "autonomy": {"tolerationSeconds": 5}}
    )
    async with pair.api:
        await pair.api.create(resources.PODS.path("default"), tenants.pod("short-lived"))
        running = await tenants.wait_for_pod(pair.api, "default", "short-lived")
        super_path = resources.PODS.path(pair.super_namespace("default"), "short-lived")

        cluster.set_pool_link(super_cluster.folder, "edge-b", connected=False)
        try:
            # Node grace (40 s) + the 5 s window: the super-cluster's taint manager marks the
            # pod for deletion, which an unreachable node cannot confirm. The tenant sees why.
            async def told() -> kube_client.KubeObject | None:
                pod = await pair.api.get(resources.PODS.path("default", "short-lived"))
                marked = [
                    item
                    for item in pod["status"].get("conditions") or []
                    if item["type"] == "DisruptionTarget"
                ]
                return pod if marked else None

            disrupted = await wait.until(told, timeout=180, what="the eviction to reach the tenant")
        finally:
            cluster.set_pool_link(super_cluster.folder, "edge-b", connected=True)
            await wait.until(
                lambda: _pool_ready(api, "edge-b"), timeout=120, what="edge-b to be Ready again"
            )

        # Back online, the deletion completes: the tenant pod ends Failed, and is not rerun.
        failed = await tenants.wait_for_pod(
            pair.api, "default", "short-lived", phase="Failed", timeout=120
        )
        events = (await pair.api.get(resources.EVENTS.path("default")))["items"]
        with pytest.raises(errors.NotFound):
            await api.get(super_path)

    condition = next(
        item for item in disrupted["status"]["conditions"] if item["type"] == "DisruptionTarget"
    )
    assert condition["reason"] == "DeletionByTaintManager"
    assert failed["metadata"]["uid"] == running["metadata"]["uid"]
    assert failed["status"]["reason"] == "Evicted"
    assert "spec.autonomy" in failed["status"]["message"]
    assert any(
        item["reason"] == "Evicted" and item["involvedObject"]["uid"] == running["metadata"]["uid"]
        for item in events
    )


async def _pool_ready(api: kube_client.Client, pool: str) -> bool:
    nodes = (
        await api.get(resources.NODES.path(), params={"labelSelector": f"{POOL_LABEL}={pool}"})
    )["items"]
    return all(
        any(
            item["type"] == "Ready" and item["status"] == "True"
            for item in node["status"]["conditions"]
        )
        for node in nodes
    )
