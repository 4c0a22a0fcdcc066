"""A client's watches never hold up its requests, however small its connection pool."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from atoll.core.kube import client as kube_client
from atoll.core.kube import resources
from support import cluster as support_cluster
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]
WATCHES = 4


async def test_requests_are_answered_while_more_watches_run_than_the_pool_holds(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> None:
    name = tenants.unique("pool")
    async with kube_client.Client(super_cluster.access, max_connections=2) as small:
        path = resources.CONFIGMAPS.path("default")
        version = (await small.get(path))["metadata"]["resourceVersion"]
        seen = [asyncio.Event() for _ in range(WATCHES)]

        async def watch(told: asyncio.Event) -> None:
            async for _event_type, obj in small.watch(
                path, resource_version=version, timeout_seconds=60
            ):
                if obj["metadata"]["name"] == name:
                    told.set()

        watches = [asyncio.create_task(watch(told)) for told in seen]
        try:
            await api.create(path, {"metadata": {"name": name}, "data": {"k": "v"}})
            # Every watch is connected, and sees the change: twice the pool's size.
            await asyncio.wait_for(asyncio.gather(*(told.wait() for told in seen)), timeout=20)
            listings = await asyncio.wait_for(
                asyncio.gather(*(small.get(resources.NAMESPACES.path()) for _ in range(6))),
                timeout=20,
            )
        finally:
            for task in watches:
                task.cancel()
            for task in watches:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await api.delete(resources.CONFIGMAPS.path("default", name))

    assert all(told.is_set() for told in seen)
    assert all(listing["items"] for listing in listings)
