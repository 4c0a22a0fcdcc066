"""The `atoll` command on one VirtualCluster: create, describe, connect, pause, resume, delete.

Each test runs the real command in a child process against the real super-cluster and
checks what it printed, its exit code and what changed in the cluster. The tests share the
module's VirtualCluster and run in file order; the last one deletes it.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Awaitable, Callable

import pytest
import yaml

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources
from support import cluster as support_cluster
from support import vcs

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.cluster,
    pytest.mark.usefixtures("created"),
]

Run = Callable[..., Awaitable[subprocess.CompletedProcess[str]]]
NAME = "demo"


def progress_steps(stderr: str) -> list[str]:
    """The progress steps a command logged (as JSON lines, stderr being no terminal)."""
    steps = []
    for line in stderr.splitlines():
        if line.startswith("{") and (entry := json.loads(line)).get("event") == "progress":
            steps.append(entry["step"])
    return steps


async def test_create_waits_until_running_and_shows_progress(
    created: subprocess.CompletedProcess[str], cli_namespace: str
) -> None:
    assert created.returncode == 0, created.stderr
    assert created.stdout == ""
    assert f"virtualcluster {cli_namespace}/{NAME} created" in created.stderr
    assert f"is Running; use it with `atoll connect {NAME} -n {cli_namespace}`" in created.stderr
    steps = progress_steps(created.stderr)
    assert steps, created.stderr
    assert steps[-1].startswith("Running")


async def test_describe_shows_status_pools_with_quota_and_events(
    api: kube_client.Client,
    atoll: Run,
    cli_namespace: str,
) -> None:
    path = atoll_api.VIRTUALCLUSTERS.path(cli_namespace, NAME)
    await api.patch(
        path,
        {"spec": {"nodePools": [{"name": "edge-a", "quota": {"pods": 4}}, {"name": "cloud"}]}},
    )

    async def quota_reported() -> bool:
        pools = ((await api.get(path)).get("status") or {}).get("nodePools") or []
        return any(pool.get("quota") for pool in pools)

    await wait.until(quota_reported, timeout=30, what="quota usage in status.nodePools")

    text = await atoll("describe", NAME, "-n", cli_namespace)
    as_json = await atoll("describe", NAME, "-n", cli_namespace, "-o", "json")

    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "  Phase:                Running" in lines
    assert "  Node pools:       edge-a (default, quota), cloud" in lines
    assert any(line.split()[:2] == ["Ready", "True"] for line in lines)
    assert any(line.split()[:2] == ["edge-a", "Edge"] and "pods 0/4" in line for line in lines)
    assert any(line.split()[:2] == ["Normal", "Running"] for line in lines)
    described = json.loads(as_json.stdout)
    assert described["virtualCluster"]["status"]["phase"] == "Running"
    assert "Running" in {event["reason"] for event in described["events"]}


async def test_get_shows_objects_synced_and_the_sync_condition(
    api: kube_client.Client,
    atoll: Run,
    cli_namespace: str,
) -> None:
    async with kube_client.Client(await vcs.tenant_access(api, cli_namespace, NAME)) as tenant:
        await tenant.create(
            resources.CONFIGMAPS.path("default"), {"metadata": {"name": "counted"}, "data": {}}
        )
    path = atoll_api.VIRTUALCLUSTERS.path(cli_namespace, NAME)

    async def counted() -> bool:
        synced = ((await api.get(path)).get("status") or {}).get("syncedObjects") or {}
        return int(synced.get("ConfigMap", 0)) >= 1

    await wait.until(counted, timeout=60, what="the ConfigMap counted in status.syncedObjects")
    text = await atoll("get", NAME, "-n", cli_namespace)

    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    synced = next(line for line in lines if line.startswith("synced"))
    assert "ConfigMap " in synced
    assert any(line.split()[:3] == ["Synced", "True", "InSync"] for line in lines), lines
    services = next(line for line in lines if line.startswith("services"))
    assert services.split()[1].endswith("/20")


async def test_a_missing_virtual_cluster_is_named_with_the_fix(
    atoll: Run, cli_namespace: str
) -> None:
    result = await atoll("describe", "absent", "-n", cli_namespace)

    assert result.returncode == 1
    assert (
        f"no VirtualCluster absent in namespace {cli_namespace}; list them with `atoll list -A`"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


async def test_vc_names_complete_from_the_super_cluster(
    atoll: Run, super_cluster: support_cluster.SuperCluster, cli_namespace: str
) -> None:
    words = f"atoll describe --kubeconfig {super_cluster.kubeconfig} -n {cli_namespace} de"

    result = await atoll(
        super_kubeconfig=False,
        env={"_ATOLL_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": "6"},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [f"plain,{NAME}"]


async def test_connect_merges_a_working_context_and_keeps_the_others(
    atoll: Run,
    super_cluster: support_cluster.SuperCluster,
    cli_namespace: str,
    tmp_path: pathlib.Path,
) -> None:
    user_config = tmp_path / "config"
    mine = yaml.safe_load(super_cluster.kubeconfig.read_text())
    mine["contexts"][0]["name"] = mine["current-context"] = "my-super"
    user_config.write_text(yaml.safe_dump(mine))
    context = f"atoll_{cli_namespace}_{NAME}"

    merged = await atoll("connect", NAME, "-n", cli_namespace, "--kubeconfig-out", str(user_config))
    first = user_config.read_bytes()
    again = await atoll("connect", NAME, "-n", cli_namespace, "--kubeconfig-out", str(user_config))
    printed = await atoll("connect", NAME, "-n", cli_namespace, "--print-env")

    assert merged.returncode == 0, merged.stderr
    assert "(it was my-super; switch back with" in merged.stderr
    assert again.returncode == 0, again.stderr
    assert user_config.read_bytes() == first
    document = yaml.safe_load(first)
    assert document["current-context"] == context
    assert [item["name"] for item in document["contexts"]] == ["my-super", context]
    async with kube_client.Client(config.load_kubeconfig(user_config, context)) as tenant:
        tenant_namespaces = await tenant.get(resources.NAMESPACES.path())
    assert {"default", "kube-system"} <= {
        item["metadata"]["name"] for item in tenant_namespaces["items"]
    }
    assert config.load_kubeconfig(user_config, "my-super") == super_cluster.access
    assert printed.returncode == 0, printed.stderr
    exported = pathlib.Path(printed.stdout.strip().removeprefix("export KUBECONFIG="))
    assert exported.name == f"{context}.kubeconfig"
    assert (
        config.load_kubeconfig(exported).server
        == config.load_kubeconfig(user_config, context).server
    )


async def test_pause_and_resume_wait_for_their_phases(
    api: kube_client.Client, atoll: Run, cli_namespace: str
) -> None:
    paused = await atoll("pause", NAME, "-n", cli_namespace, "--wait", "--timeout", "60")
    seen_paused = await vcs.read_vc(api, cli_namespace, NAME)
    paused_again = await atoll("pause", NAME, "-n", cli_namespace)
    resumed = await atoll("resume", NAME, "-n", cli_namespace, "--wait", "--timeout", "60")
    seen_running = await vcs.read_vc(api, cli_namespace, NAME)

    assert paused.returncode == 0, paused.stderr
    assert f"virtualcluster {cli_namespace}/{NAME} is Paused" in paused.stderr
    assert progress_steps(paused.stderr)[-1].startswith("Paused")
    assert (seen_paused["spec"]["paused"], seen_paused["status"]["phase"]) == (True, "Paused")
    assert paused_again.returncode == 0
    assert "is already paused" in paused_again.stderr
    assert resumed.returncode == 0, resumed.stderr
    assert f"virtualcluster {cli_namespace}/{NAME} is Running" in resumed.stderr
    assert (seen_running["spec"]["paused"], seen_running["status"]["phase"]) == (False, "Running")


async def test_delete_waits_until_it_is_gone(
    api: kube_client.Client, atoll: Run, cli_namespace: str
) -> None:
    deleted = await atoll("delete", NAME, "-n", cli_namespace, "--wait", "--timeout", "60")
    deleted_again = await atoll("delete", NAME, "-n", cli_namespace)

    assert deleted.returncode == 0, deleted.stderr
    assert f"virtualcluster {cli_namespace}/{NAME} deleted" in deleted.stderr
    with pytest.raises(errors.NotFound):
        await vcs.read_vc(api, cli_namespace, NAME)
    assert deleted_again.returncode == 1
    assert f"no VirtualCluster {NAME} in namespace {cli_namespace}" in deleted_again.stderr
