"""A changed ClusterVersion rolls the control planes that use it, keeping their data."""

from __future__ import annotations

import pathlib

import pytest

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]


def component_pid(vc_uid: str, binary: str) -> tuple[int, str] | None:
    for pid in vcs.tenant_processes(vc_uid):
        command = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if f"/{binary} ".encode() in command:
            return pid, command.decode()
    return None


async def test_cluster_version_change_rolls_only_the_api_server_and_keeps_data(
    api: kube_client.Client, namespace: str
) -> None:
    version_name = f"rolling-{namespace}"
    await api.create(
        atoll_api.CLUSTERVERSIONS.path(),
        {
            "apiVersion": atoll_api.API_VERSION,
            "kind": "ClusterVersion",
            "metadata": {"name": version_name},
            "spec": {"kubernetesVersion": "v1.37.2"},
        },
    )
    try:
        created = await vcs.create_vc(api, namespace, "rolled", {"clusterVersion": version_name})
        uid = created["metadata"]["uid"]
        await vcs.wait_phase(api, namespace, "rolled", "Running")
        async with kube_client.Client(await vcs.tenant_access(api, namespace, "rolled")) as t:
            await t.create(
                resources.CONFIGMAPS.path("default"),
                {"metadata": {"name": "before-roll"}, "data": {"kept": "yes"}},
            )
        before = component_pid(uid, "kube-apiserver")
        datastore = component_pid(uid, "etcd")
        assert before is not None
        assert datastore is not None

        await api.patch(
            atoll_api.CLUSTERVERSIONS.path(name=version_name),
            {"spec": {"apiServer": {"extraArgs": ["--max-requests-inflight=300"]}}},
        )

        async def rolled() -> tuple[int, str] | None:
            current = component_pid(uid, "kube-apiserver")
            return current if current and "--max-requests-inflight=300" in current[1] else None

        after = await wait.until(rolled, timeout=120, what="the API server to roll")
        await vcs.wait_phase(api, namespace, "rolled", "Running")
        async with kube_client.Client(await vcs.tenant_access(api, namespace, "rolled")) as t:

            async def answered() -> kube_client.KubeObject | None:
                try:
                    return await t.get(resources.CONFIGMAPS.path("default", "before-roll"))
                except errors.Unreachable:
                    return None  # restarting

            kept = await wait.until(answered, timeout=60, what="the tenant API to answer")
    finally:
        await api.delete(atoll_api.CLUSTERVERSIONS.path(name=version_name))

    assert after[0] != before[0]
    assert kept["data"] == {"kept": "yes"}
    # The datastore, and with it the data, ran on throughout the roll.
    assert component_pid(uid, "etcd") == datastore
