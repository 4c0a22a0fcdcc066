"""The real local super-cluster, started once per test session by atoll's own code.

Tests that touch Kubernetes use `super_cluster` (its state folder, admin access) and `api`
(an atoll client on it). Nothing here is mocked: etcd, kube-apiserver,
kube-controller-manager and kube-scheduler are the pinned binaries, nodes are simulated.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from atoll.core.kube import client as kube_client
from atoll.local import cluster
from support import cluster as support_cluster


@pytest.fixture(scope="session")
def super_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[support_cluster.SuperCluster]:
    started = support_cluster.start_cluster(tmp_path_factory.mktemp("super"))
    try:
        yield started
    finally:
        cluster.down(started.folder)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(super_cluster: support_cluster.SuperCluster) -> AsyncIterator[kube_client.Client]:
    async with kube_client.Client(super_cluster.access) as client:
        yield client
