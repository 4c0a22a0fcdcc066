"""Fixtures for the isolation tests: a hostile tenant on edge-b and its victim on edge-a."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest_asyncio

from atoll.core.kube import client as kube_client
from support import tenants


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def hostile(api: kube_client.Client) -> AsyncIterator[tenants.TenantPair]:
    pair = await tenants.running_tenant(
        api,
        "hostile",
        {
            "nodePools": [{"name": "edge-b"}],
            "isolation": {"podSecurity": "baseline", "quota": {"services": 3}},
            "sync": {"networkPolicies": True},
        },
    )
    yield pair
    await pair.api.close()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def victim(api: kube_client.Client) -> AsyncIterator[tenants.TenantPair]:
    pair = await tenants.running_tenant(api, "victim", {"nodePools": [{"name": "edge-a"}]})
    yield pair
    await pair.api.close()
