"""The real local super-cluster as tests see it, started by atoll's own code."""

from __future__ import annotations

import dataclasses
import pathlib

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

    def pid(self, component: str) -> int:
        status = self.folder.read_status()
        assert status is not None
        return status.pids[component]


def start_cluster(
    root: pathlib.Path, pools: str = POOLS, pool_label: str = "apps.openyurt.io/nodepool"
) -> SuperCluster:
    """Start a local super-cluster in `root` the way `atoll up` does."""
    folder = state.StateDir(root)
    cluster.up(folder, pools=pools, pool_label=pool_label, timeout=240)
    return SuperCluster(folder=folder, access=config.load_kubeconfig(folder.kubeconfig))
