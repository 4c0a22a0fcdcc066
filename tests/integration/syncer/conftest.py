"""Fixtures for syncer tests: Running VirtualClusters, shared by the tests of a module."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from atoll.core.kube import client as kube_client
from support import tenants


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tenant_a(api: kube_client.Client) -> AsyncIterator[tenants.TenantPair]:
    pair = await tenants.running_tenant(
        api, "tenant-a", {"nodePools": [{"name": "edge-a"}, {"name": "cloud"}]}
    )
    yield pair
    await pair.api.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def tenant_b(api: kube_client.Client) -> AsyncIterator[tenants.TenantPair]:
    pair = await tenants.running_tenant(api, "tenant-b")
    yield pair
    await pair.api.close()
