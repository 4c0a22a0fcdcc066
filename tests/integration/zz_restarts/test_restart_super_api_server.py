"""The super-cluster's own API server killed mid-run: everything converges once it is back.

Every test of the session shares one super-cluster, so this one runs after all the others:
pytest runs tests in collection order, folders and files sorted by name (the project does
not shuffle them), which puts `zz_restarts/` last among the integration tests. It also
leaves the cluster as it found it: it returns only once every component runs again, every
simulated node is Ready and atoll has converged.
"""

from __future__ import annotations

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.local import process
from support import cluster as support_cluster
from support import invariants, tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]


async def _deployment(client: kube_client.Client, name: str, replicas: int) -> None:
    labels = {"app": name}
    await client.create(
        resources.DEPLOYMENTS.path("default"),
        {
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}]},
                },
            },
        },
    )


async def _everything_back(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> bool:
    """Ready API server, every supervised component alive, every simulated node Ready."""
    status = super_cluster.folder.read_status()
    if status is None or status.phase != "ready":
        return False
    if not all(process.pid_alive(pid) for pid in status.pids.values()):
        return False
    try:
        await api.request("GET", "/readyz")
        nodes = await api.get(
            resources.NODES.path(), params={"labelSelector": "atoll.dev/simulated=true"}
        )
    except errors.ApiError:
        return False
    return all(
        any(c["type"] == "Ready" and c["status"] == "True" for c in node["status"]["conditions"])
        for node in nodes["items"]
    )


async def test_super_api_server_killed_mid_run_converges(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> None:
    pair = await tenants.running_tenant(api, "survivor")
    one = invariants.TrackedTenant(pair=pair)
    try:
        await pair.api.create(
            resources.CONFIGMAPS.path("default"), {"metadata": {"name": "before"}}
        )
        await _deployment(pair.api, "web", 2)
        one.made(("ConfigMap", "default", "before"))
        one.made(("Deployment", "default", "web"))
        one.replicas[("default", "web")] = 2
        await invariants.wait_for_invariants(api, [one])

        old_pid = invariants.kill_component(super_cluster, "kube-apiserver")
        assert old_pid is not None
        # The tenant keeps working while the super-cluster is away; the syncer catches up.
        await pair.api.create(
            resources.CONFIGMAPS.path("default"), {"metadata": {"name": "while-away"}}
        )
        await pair.api.delete(resources.CONFIGMAPS.path("default", "before"))
        await pair.api.patch(
            resources.DEPLOYMENTS.path("default", "web"), {"spec": {"replicas": 3}}
        )
        one.made(("ConfigMap", "default", "while-away"))
        one.removed(("ConfigMap", "default", "before"))
        one.replicas[("default", "web")] = 3

        await invariants.component_back(super_cluster, "kube-apiserver", old_pid)
        await wait.until(
            lambda: _everything_back(api, super_cluster),
            timeout=120,
            what="every component and node to be back",
        )
        report = await invariants.wait_for_invariants(api, [one], timeout=150)
    finally:
        # Kept: the secret scan after this test looks for its keys in the logs.
        await pair.api.close()
    assert report.tenant_objects > 0
