"""Fixtures for pool tests: one Running VirtualCluster per edge pool, shared by a module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from atoll.core.kube import client as kube_client
from support import tenants


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def on_edge_a(api: kube_client.Client) -> AsyncIterator[tenants.TenantPair]:
    """A tenant granted the pool edge-a and nothing else."""
    pair = await tenants.running_tenant(api, "on-edge-a", {"nodePools": [{"name": "edge-a"}]})
    yield pair
    await pair.api.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def on_edge_b(api: kube_client.Client) -> AsyncIterator[tenants.TenantPair]:
    """A tenant granted the pool edge-b and nothing else."""
    pair = await tenants.running_tenant(api, "on-edge-b", {"nodePools": [{"name": "edge-b"}]})
    yield pair
    await pair.api.close()
