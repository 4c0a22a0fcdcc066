"""Per-pool quotas: a pool's cap holds under concurrent creation, and room is reused."""

from __future__ import annotations

import asyncio

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import resources
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]


async def test_quota_of_five_admits_exactly_five_then_one_more_when_room_frees(
    api: kube_client.Client,
) -> None:
    pair = await tenants.running_tenant(
        api, "capped", {"nodePools": [{"name": "edge-b", "quota": {"pods": 5}}]}
    )
    super_namespace = pair.super_namespace("default")
    names = [f"burst-{index}" for index in range(8)]

    async with pair.api:
        # Eight at once: the admissions race each other inside the syncer.
        await asyncio.gather(
            *(
                pair.api.create(
                    resources.PODS.path("default"), tenants.pod(name, labels={"app": "burst"})
                )
                for name in names
            )
        )

        async def settled() -> tuple[list[str], list[str]] | None:
            super_pods = (
                await api.get(
                    resources.PODS.path(super_namespace), params={"labelSelector": "app=burst"}
                )
            )["items"]
            tenant_pods = (
                await pair.api.get(
                    resources.PODS.path("default"), params={"labelSelector": "app=burst"}
                )
            )["items"]
            held = [
                item["metadata"]["name"]
                for item in tenant_pods
                if any(
                    condition.get("reason") == "QuotaExceeded"
                    for condition in item.get("status", {}).get("conditions") or []
                )
            ]
            placed = [item["metadata"]["name"] for item in super_pods]
            return (placed, held) if len(placed) + len(held) == 8 else None

        placed, held = await wait.until(settled, timeout=90, what="8 pods admitted or held")
        assert len(placed) == 5
        assert len(held) == 3
        events = (await pair.api.get(resources.EVENTS.path("default")))["items"]
        assert any(
            item["reason"] == "QuotaExceeded"
            and "pool edge-b quota for pods is 5" in item["message"]
            for item in events
        )

        # Room frees: exactly one of the held pods goes down.
        await tenants.wait_for_pod(pair.api, "default", placed[0])
        await pair.api.delete(resources.PODS.path("default", placed[0]))

        async def one_more() -> list[str] | None:
            super_pods = (
                await api.get(
                    resources.PODS.path(super_namespace), params={"labelSelector": "app=burst"}
                )
            )["items"]
            live = [
                item["metadata"]["name"]
                for item in super_pods
                if not item["metadata"].get("deletionTimestamp")
            ]
            return live if any(name in live for name in held) else None

        live = await wait.until(one_more, timeout=90, what="a held pod to be admitted")
        assert len(live) == 5
        assert sum(name in live for name in held) == 1


async def test_room_of_a_pod_that_came_and_went_between_admissions_is_reused(
    api: kube_client.Client,
) -> None:
    # One pod's room: the first pod is admitted, runs and is deleted with no other admission
    # in between; the next must still find the room free.
    pair = await tenants.running_tenant(
        api, "single", {"nodePools": [{"name": "edge-b", "quota": {"pods": 1}}]}
    )
    super_namespace = pair.super_namespace("default")

    async with pair.api:
        await pair.api.create(resources.PODS.path("default"), tenants.pod("first"))
        await tenants.wait_for_pod(pair.api, "default", "first")
        await pair.api.delete(resources.PODS.path("default", "first"))
        assert await tenants.wait_until_missing(api, resources.PODS.path(super_namespace, "first"))
        assert await tenants.wait_until_missing(pair.api, resources.PODS.path("default", "first"))

        await pair.api.create(resources.PODS.path("default"), tenants.pod("second"))
        second = await tenants.wait_for_pod(pair.api, "default", "second")

    assert not [
        condition
        for condition in second["status"].get("conditions") or []
        if condition.get("reason") == "QuotaExceeded"
    ]
