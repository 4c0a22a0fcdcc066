"""Fixtures for the chart's integration tests: helm and kubectl, and a fresh namespace."""

from __future__ import annotations

import os
import pathlib
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from atoll.core import binaries
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources


@pytest.fixture(scope="session")
def helm() -> pathlib.Path:
    """The helm binary; missing, the tests skip on a workstation and fail in CI."""
    try:
        return binaries.find("helm")
    except binaries.MissingBinary:
        if os.environ.get("CI"):
            raise
        pytest.skip("helm is not built: run hack/build-kube.sh (with CI set, this fails)")


@pytest.fixture(scope="session")
def kubectl() -> pathlib.Path:
    return binaries.find("kubectl")


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def release_namespace(api: kube_client.Client) -> AsyncIterator[str]:
    """A fresh super-cluster namespace for the chart's namespaced objects."""
    name = f"chart-{uuid.uuid4().hex[:8]}"
    await api.create(
        resources.NAMESPACES.path(),
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}},
    )
    yield name
    try:
        await api.delete(resources.NAMESPACES.path(name=name))
    except errors.NotFound:
        return
