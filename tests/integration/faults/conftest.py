"""Fixtures for fault tests: two Running tenants shared by every module of this folder."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest_asyncio

from atoll.core import api as atoll_api
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors
from support import invariants, tenants


@pytest_asyncio.fixture(scope="package", loop_scope="session")
async def fault_tenants(api: kube_client.Client) -> AsyncIterator[list[invariants.TrackedTenant]]:
    """`fault-a` (pools edge-a and cloud) and `fault-b` (every pool), tracked for invariants."""
    pairs = await asyncio.gather(
        tenants.running_tenant(
            api, "fault-a", {"nodePools": [{"name": "edge-a"}, {"name": "cloud"}]}
        ),
        tenants.running_tenant(api, "fault-b"),
    )
    tracked = [invariants.TrackedTenant(pair=pair) for pair in pairs]
    yield tracked

    # Deleted without waiting: the operator takes them apart while later tests run.
    for one in tracked:
        await one.pair.api.close()
        with contextlib.suppress(errors.NotFound):
            await api.delete(
                atoll_api.VIRTUALCLUSTERS.path(
                    one.pair.tenant.vc_namespace, one.pair.tenant.vc_name
                )
            )
