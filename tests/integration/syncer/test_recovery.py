"""Drift, restarts and reporting: the syncer converges and says where it stands."""

from __future__ import annotations

import os
import signal

import pytest

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from support import cluster as support_cluster
from support import tenants, vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]


async def test_super_object_changed_behind_the_syncers_back_is_repaired(
    api: kube_client.Client,
    tenant_b: tenants.TenantPair,
    super_cluster: support_cluster.SuperCluster,
) -> None:
    name = tenants.unique("drifting")
    await tenant_b.api.create(
        resources.CONFIGMAPS.path("default"),
        {"metadata": {"name": name}, "data": {"mode": "tenant"}},
    )
    super_path = resources.CONFIGMAPS.path(tenant_b.super_namespace("default"), name)
    await wait.until(lambda: _data(api, super_path), timeout=60, what="the super ConfigMap")

    await api.patch(super_path, {"data": {"mode": "tampered"}})

    async def repaired() -> bool:
        return await _data(api, super_path) == {"mode": "tenant"}

    assert await wait.until(repaired, timeout=60, what="the drift to be repaired")
    log = super_cluster.folder.log_file("atoll-operator").read_text()
    assert any('"drift_repaired"' in line and name in line for line in log.splitlines())


async def test_vc_status_reports_sync_health_and_counts(
    api: kube_client.Client, tenant_b: tenants.TenantPair
) -> None:
    await tenant_b.api.create(
        resources.CONFIGMAPS.path("default"), {"metadata": {"name": tenants.unique("counted")}}
    )
    path = atoll_api.VIRTUALCLUSTERS.path(tenant_b.tenant.vc_namespace, tenant_b.tenant.vc_name)

    async def reported() -> dict[str, object] | None:
        vc = await api.get(path)
        synced = [item for item in vc["status"].get("conditions") or [] if item["type"] == "Synced"]
        objects = vc["status"].get("syncedObjects") or {}
        return (
            vc
            if synced and synced[0]["status"] == "True" and objects.get("ConfigMap", 0) >= 1
            else None
        )

    vc = await wait.until(reported, timeout=60, what="a Synced condition with counts")
    assert vc["status"]["syncedObjects"]["Namespace"] >= 1  # type: ignore[index]


async def test_syncer_killed_catches_up_without_duplicates_and_removes_orphans(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> None:
    pair = await tenants.running_tenant(api, "restarted")
    super_namespace = pair.super_namespace("default")
    async with pair.api:
        for index in range(5):
            await pair.api.create(resources.PODS.path("default"), tenants.pod(f"keep-{index}"))
        await pair.api.create(
            resources.CONFIGMAPS.path("default"), {"metadata": {"name": "orphan-to-be"}}
        )
        for index in range(5):
            await tenants.wait_for_pod(pair.api, "default", f"keep-{index}")
        await wait.until(
            lambda: _exists(api, resources.CONFIGMAPS.path(super_namespace, "orphan-to-be")),
            timeout=60,
            what="the super ConfigMap",
        )

        # The syncer (inside the operator) dies; meanwhile the tenant changes.
        os.kill(super_cluster.pid("atoll-operator"), signal.SIGKILL)
        await pair.api.delete(resources.CONFIGMAPS.path("default", "orphan-to-be"))
        await pair.api.create(resources.PODS.path("default"), tenants.pod("while-down"))

        await tenants.wait_for_pod(pair.api, "default", "while-down", timeout=120)
        assert await vcs.wait_gone(api, resources.CONFIGMAPS.path(super_namespace, "orphan-to-be"))
        super_pods = (await api.get(resources.PODS.path(super_namespace)))["items"]
        tenant_pods = (await pair.api.get(resources.PODS.path("default")))["items"]

    assert sorted(item["metadata"]["name"] for item in super_pods) == sorted(
        item["metadata"]["name"] for item in tenant_pods
    )
    assert len(super_pods) == 6


async def _data(api: kube_client.Client, path: str) -> dict[str, str] | None:
    try:
        found: dict[str, str] = (await api.get(path)).get("data") or {}
    except errors.NotFound:
        return None
    return found


async def _exists(api: kube_client.Client, path: str) -> bool:
    try:
        await api.get(path)
    except errors.NotFound:
        return False
    return True
