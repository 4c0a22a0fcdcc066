"""Starting, stopping and restarting local super-clusters, and what happens when things fail."""

from __future__ import annotations

import asyncio
import os
import pathlib
import socket
import subprocess
import sys

import pytest

from atoll.core import binaries
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, resources
from atoll.local import cluster, process, state
from support import cluster as support_cluster

pytestmark = [pytest.mark.cluster]

SMALL_LAYOUT = "cloud:1"


def atoll_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "atoll.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def start(root: pathlib.Path) -> state.StateDir:
    folder = state.StateDir(root)
    cluster.up(folder, pools=SMALL_LAYOUT, timeout=240)
    return folder


def processes_of(folder: state.StateDir) -> list[int]:
    status = folder.read_status()
    assert status is not None
    return [status.supervisor_pid, *status.pids.values()]


async def read_configmap(
    folder: state.StateDir, namespace: str, name: str
) -> kube_client.KubeObject:
    async with kube_client.Client(config.load_kubeconfig(folder.kubeconfig)) as api:
        return await api.get(resources.CONFIGMAPS.path(namespace, name))


async def write_configmap(folder: state.StateDir, namespace: str, name: str) -> None:
    async with kube_client.Client(config.load_kubeconfig(folder.kubeconfig)) as api:
        await api.create(
            resources.CONFIGMAPS.path(namespace),
            {"metadata": {"name": name}, "data": {"kept": "yes"}},
        )


def test_cli_up_on_a_running_state_dir_says_so_and_fails(
    super_cluster: support_cluster.SuperCluster,
) -> None:
    folder = super_cluster.folder

    result = atoll_cli("up", f"--state-dir={folder.root}")

    assert result.returncode == 1
    assert "already running" in result.stderr
    assert folder.is_locked()


def test_cli_status_shows_components_and_pools(super_cluster: support_cluster.SuperCluster) -> None:
    folder = super_cluster.folder

    result = atoll_cli("status", f"--state-dir={folder.root}", "-o", "json")

    assert result.returncode == 0, result.stderr
    assert '"phase": "ready"' in result.stdout
    assert '"pool": "edge-a"' in result.stdout
    assert '"kube-scheduler": true' in result.stdout


def test_down_leaves_nothing_running_and_up_keeps_data(tmp_path: pathlib.Path) -> None:
    folder = start(tmp_path / "state")
    asyncio.run(write_configmap(folder, "default", "survivor"))
    first_processes = processes_of(folder)
    first_ca = (folder.pki / "ca.crt").read_bytes()
    first_port = folder.read_status().ports["kube-apiserver"]  # type: ignore[union-attr]

    result = atoll_cli("down", f"--state-dir={folder.root}")

    assert result.returncode == 0, result.stderr
    assert not folder.is_locked()
    assert [pid for pid in first_processes if process.pid_alive(pid)] == []

    # Someone else takes the API server's port meanwhile: the restart must pick another.
    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", first_port))
        squatter.listen()
        result = atoll_cli("up", f"--state-dir={folder.root}")
        try:
            assert result.returncode == 0, result.stderr
            assert f"export KUBECONFIG={folder.kubeconfig}" in result.stdout
            assert folder.read_status().ports["kube-apiserver"] != first_port  # type: ignore[union-attr]
            kept = asyncio.run(read_configmap(folder, "default", "survivor"))
            assert kept["data"] == {"kept": "yes"}
            assert (folder.pki / "ca.crt").read_bytes() == first_ca
        finally:
            cluster.down(folder)


def test_component_dying_at_start_stops_the_others(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Real binaries, except an API server that refuses to start.
    broken_bin = tmp_path / "bin"
    broken_bin.mkdir()
    for name in binaries.CONTROL_PLANE:
        (broken_bin / name).symlink_to(binaries.find(name))
    (broken_bin / "kube-apiserver").unlink()
    (broken_bin / "kube-apiserver").write_text(
        "#!/bin/sh\necho 'flag --etcd-servers: refusing to start for this test' >&2\nexit 3\n"
    )
    (broken_bin / "kube-apiserver").chmod(0o755)
    monkeypatch.setenv("ATOLL_KUBE_BIN", str(broken_bin))
    folder = state.StateDir(tmp_path / "state")

    with pytest.raises(cluster.StartFailed) as failure:
        cluster.up(folder, pools=SMALL_LAYOUT, timeout=120)

    assert "kube-apiserver exited with code 3" in str(failure.value)
    assert any("refusing to start for this test" in line for line in failure.value.log_tail)
    status = folder.read_status()
    assert status is not None
    assert status.phase == "failed"
    assert "etcd" in status.pids
    assert not process.pid_alive(status.pids["etcd"])
    assert not folder.is_locked()


def test_cli_reports_missing_binaries_with_the_fix(tmp_path: pathlib.Path) -> None:
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"ATOLL_KUBE_BIN", "KUBEBUILDER_ASSETS"}
    }
    environment["XDG_CACHE_HOME"] = str(tmp_path / "empty-cache")

    result = atoll_cli("up", f"--state-dir={tmp_path / 'state'}", env=environment)

    assert result.returncode == 1
    assert "make binaries" in result.stderr
    assert "ATOLL_KUBE_BIN" in result.stderr
    assert not (tmp_path / "state" / "supervisor.lock").exists()
