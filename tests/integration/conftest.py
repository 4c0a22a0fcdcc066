"""The real local super-cluster, started once per test session by atoll's own code.

Tests that touch Kubernetes use `super_cluster` (its state folder, admin access) and `api`
(an atoll client on it). Nothing here is mocked: etcd, kube-apiserver,
kube-controller-manager and kube-scheduler are the pinned binaries, nodes are simulated.
"""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from atoll.core.kube import client as kube_client
from atoll.core.kube import config
from atoll.local import cluster, state

POOLS = "cloud:1,edge-a:2,edge-b:2"


@dataclasses.dataclass(frozen=True)
class SuperCluster:
    folder: state.StateDir
    access: config.ClusterAccess

    @property
    def kubeconfig(self) -> pathlib.Path:
        return self.folder.kubeconfig


def start_cluster(root: pathlib.Path, pools: str = POOLS) -> SuperCluster:
    """Start a local super-cluster in `root` the way `atoll up` does."""
    folder = state.StateDir(root)
    cluster.up(folder, pools=pools, timeout=240)
    return SuperCluster(folder=folder, access=config.load_kubeconfig(folder.kubeconfig))


@pytest.fixture(scope="session")
def super_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SuperCluster]:
    root = tmp_path_factory.mktemp("super")
    started = start_cluster(root)
    try:
        yield started
    finally:
        cluster.down(started.folder)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def api(super_cluster: SuperCluster) -> AsyncIterator[kube_client.Client]:
    async with kube_client.Client(super_cluster.access) as client:
        yield client
