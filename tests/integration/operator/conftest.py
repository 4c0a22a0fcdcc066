"""Fixtures for operator tests: a fresh super-cluster namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest_asyncio

from atoll.core.kube import client as kube_client
from atoll.core.kube import resources

KubeObject = kube_client.KubeObject


@pytest_asyncio.fixture(loop_scope="session")
async def namespace(api: kube_client.Client) -> AsyncIterator[str]:
    """A fresh namespace of the super-cluster for the VirtualClusters of one test."""
    name = f"vcs-{uuid.uuid4().hex[:8]}"
    await api.create(
        resources.NAMESPACES.path(),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    yield name
