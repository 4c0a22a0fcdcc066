"""A tenant's API server frozen for a while, or killed: nothing is lost, everything catches up.

A frozen API server (SIGSTOP) keeps its connections open and answers nothing, the way a
tenant whose API server hangs or whose host is overloaded looks to the syncer; it stands in
for "away for minutes", scaled down here to FROZEN_SECONDS (20 s) to keep the suite fast.
A killed one is restarted by the operator's health timer (every 30 s it reconciles each
VirtualCluster, and the process provisioner starts exactly the components that are not
running), keeping its port, so clients and the syncer reconnect to the same address.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import resources
from atoll.local import process
from support import cluster as support_cluster
from support import invariants, tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

FROZEN_SECONDS = 20.0
RESTART_TIMEOUT = 90.0  # the health timer's 30 s interval, plus the API server's start


def _recorded_pid(
    super_cluster: support_cluster.SuperCluster, one: invariants.TrackedTenant, component: str
) -> int:
    record = super_cluster.folder.root / "vc" / one.pair.tenant.vc_uid / "run" / f"{component}.json"
    return int(json.loads(record.read_text())["pid"])


async def _made_and_synced(
    api: kube_client.Client, one: invariants.TrackedTenant, prefix: str
) -> tuple[str, str]:
    """A ConfigMap and a pod in the tenant, both on the super-cluster: their names."""
    config_map, pod = tenants.unique(f"{prefix}-cm"), tenants.unique(f"{prefix}-pod")
    await one.pair.api.create(
        resources.CONFIGMAPS.path("default"),
        {"metadata": {"name": config_map}, "data": {"mode": "tenant"}},
    )
    await one.pair.api.create(resources.PODS.path("default"), tenants.pod(pod))
    one.made(("ConfigMap", "default", config_map))
    one.made(("Pod", "default", pod))
    await tenants.wait_for_pod(one.pair.api, "default", pod)
    await invariants.wait_for_invariants(api, [one])
    return config_map, pod


async def test_frozen_tenant_api_server_loses_nothing_and_catches_up(
    api: kube_client.Client,
    super_cluster: support_cluster.SuperCluster,
    fault_tenants: list[invariants.TrackedTenant],
) -> None:
    one = fault_tenants[-1]
    config_map, pod = await _made_and_synced(api, one, "frozen")
    super_namespace = one.pair.super_namespace("default")
    super_pod_path = resources.PODS.path(super_namespace, pod)
    super_pod_uid = (await api.get(super_pod_path))["metadata"]["uid"]
    config_map_path = resources.CONFIGMAPS.path(super_namespace, config_map)
    api_server = _recorded_pid(super_cluster, one, "kube-apiserver")

    os.kill(api_server, signal.SIGSTOP)
    try:
        # Behind the syncer's back, while the tenant is away: drift on the super side.
        await api.patch(config_map_path, {"data": {"mode": "tampered"}})
        thawed_at = time.monotonic() + FROZEN_SECONDS

        # All the while, the syncer must not take the tenant's super objects away.
        async def away_long_enough() -> bool:
            current = await api.get(super_pod_path)
            assert current["metadata"]["uid"] == super_pod_uid, "super pod replaced"
            assert not current["metadata"].get("deletionTimestamp"), "super pod deleted"
            return time.monotonic() > thawed_at

        await wait.until(
            away_long_enough, timeout=FROZEN_SECONDS + 30, what="the outage to last", interval=1
        )
    finally:
        os.kill(api_server, signal.SIGCONT)

    await invariants.wait_for_invariants(api, [one])
    assert (await api.get(super_pod_path))["metadata"]["uid"] == super_pod_uid
    assert (await api.get(config_map_path))["data"] == {"mode": "tenant"}
    assert _recorded_pid(super_cluster, one, "kube-apiserver") == api_server


async def test_killed_tenant_api_server_is_restarted_by_the_operator(
    api: kube_client.Client,
    super_cluster: support_cluster.SuperCluster,
    fault_tenants: list[invariants.TrackedTenant],
) -> None:
    one = fault_tenants[0]
    await _made_and_synced(api, one, "killed")
    datastore = _recorded_pid(super_cluster, one, "etcd")
    old_api_server = _recorded_pid(super_cluster, one, "kube-apiserver")

    os.kill(old_api_server, signal.SIGKILL)

    async def restarted() -> int | None:
        try:
            pid = _recorded_pid(super_cluster, one, "kube-apiserver")
        except (OSError, ValueError):
            return None
        return pid if pid != old_api_server and process.pid_alive(pid) else None

    await wait.until(restarted, timeout=RESTART_TIMEOUT, what="the operator to restart it")
    # Each watch the syncer lost meanwhile was logged with the tenant it serves.
    log = super_cluster.folder.log_file("atoll-operator").read_text().splitlines()
    failed = [json.loads(line) for line in log if '"watch_failed"' in line]
    assert one.pair.tenant.key in {entry.get("vc") for entry in failed}

    # The restarted API server answers at the same address, and changes flow again.
    await invariants.tenant_answers(one)
    after = tenants.unique("after-restart")
    await one.pair.api.create(resources.CONFIGMAPS.path("default"), {"metadata": {"name": after}})
    one.made(("ConfigMap", "default", after))
    await invariants.wait_for_invariants(api, [one])
    assert _recorded_pid(super_cluster, one, "etcd") == datastore
