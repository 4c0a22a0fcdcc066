"""Client-side operations on a local super-cluster: start it, stop it, report on it.

The CLI calls these; they talk to the supervisor only through the state folder (its lock and
`state.json`) and to the cluster only through its API, so they work the same from any shell.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable

from atoll.core import binaries
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, resources
from atoll.local import process, state
from atoll.local.nodesim import layout

Progress = Callable[[str], None]


class StartFailed(Exception):
    """The super-cluster did not come up; `log_tail` holds the failing component's last words."""

    def __init__(self, message: str, log_tail: list[str]) -> None:
        super().__init__(message)
        self.log_tail = log_tail


def _quiet(_message: str) -> None:
    return None


def up(
    folder: state.StateDir,
    *,
    pools: str | None = None,
    pool_label: str = layout.POOL_LABEL,
    node_grace: str = "40s",
    timeout: float = 300.0,
    progress: Progress | None = None,
) -> state.ClusterStatus:
    """Start the supervisor in the background and return once the cluster is ready."""
    if folder.is_locked():
        raise state.AlreadyRunning(
            f"a local super-cluster is already running in {folder.root}: "
            f"`atoll down` stops it, or pass another --state-dir"
        )
    binaries.find_all()

    # A restart keeps the previous layout unless another one is asked for.
    previous = folder.read_status()
    chosen_pools = pools or (previous.pools if previous and previous.pools else None)
    pool_specs = layout.parse_pools(chosen_pools) if chosen_pools else layout.DEFAULT_POOLS
    folder.prepare()

    launcher = subprocess.run(
        [
            sys.executable,
            "-m",
            "atoll.local.supervisor",
            "--detach",
            f"--state-dir={folder.root}",
            f"--pools={layout.format_pools(pool_specs)}",
            f"--pool-label={pool_label}",
            f"--node-grace={node_grace}",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if launcher.returncode != 0:
        raise StartFailed("the supervisor did not start", launcher.stderr.splitlines()[-20:])
    supervisor_pid = int(launcher.stdout.strip())
    return _wait_until_ready(folder, supervisor_pid, timeout, progress or _quiet)


def _wait_until_ready(
    folder: state.StateDir, supervisor_pid: int, timeout: float, progress: Progress
) -> state.ClusterStatus:
    give_up = time.monotonic() + timeout
    last_message = ""
    while True:
        status = folder.read_status()
        if status is not None and status.supervisor_pid == supervisor_pid:
            if status.message != last_message:
                last_message = status.message
                progress(status.message)
            if status.phase == "ready":
                return status
            if status.phase == "failed":
                _wait_for_exit(supervisor_pid, timeout=30)
                raise StartFailed(status.message, status.error_log)
        if not process.pid_alive(supervisor_pid):
            raise StartFailed(
                "the supervisor exited during start-up", _tail(folder.log_file("supervisor"))
            )
        if time.monotonic() > give_up:
            os.kill(supervisor_pid, signal.SIGTERM)
            raise StartFailed(
                f"not ready after {timeout:.0f} s (last step: {last_message})",
                _tail(folder.log_file("supervisor")),
            )
        time.sleep(0.2)


def _wait_for_exit(pid: int, timeout: float) -> None:
    give_up = time.monotonic() + timeout
    while process.pid_alive(pid) and time.monotonic() < give_up:
        time.sleep(0.1)


def down(folder: state.StateDir, *, timeout: float = 60.0) -> bool:
    """Stop the cluster and every process it started; False when nothing was running."""
    status = folder.read_status()
    if not folder.is_locked() or status is None:
        return False

    os.kill(status.supervisor_pid, signal.SIGTERM)
    _wait_for_exit(status.supervisor_pid, timeout)
    if process.pid_alive(status.supervisor_pid):
        # The supervisor leads its own session: take the whole group down.
        os.killpg(status.supervisor_pid, signal.SIGKILL)

    # Children die with the supervisor (SIGKILL from the kernel at the latest).
    leftovers = [pid for pid in status.pids.values() if process.pid_alive(pid)]
    settle = time.monotonic() + 10
    while leftovers and time.monotonic() < settle:
        time.sleep(0.1)
        leftovers = [pid for pid in leftovers if process.pid_alive(pid)]
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    return True


@dataclasses.dataclass(frozen=True)
class NodeReport:
    name: str
    pool: str
    ready: str


@dataclasses.dataclass(frozen=True)
class Report:
    """What `atoll status` shows."""

    state_dir: pathlib.Path
    running: bool
    phase: str
    message: str
    components: dict[str, bool]
    ports: dict[str, int]
    nodes: list[NodeReport]
    kubeconfig: pathlib.Path


async def report(folder: state.StateDir, pool_label: str = layout.POOL_LABEL) -> Report:
    """Components and their processes, plus the nodes and pools as the API sees them."""
    status = folder.read_status() or state.ClusterStatus(phase="stopped")
    running = folder.is_locked()
    processes = {name: running and process.pid_alive(pid) for name, pid in status.pids.items()}

    nodes: list[NodeReport] = []
    if running and status.phase == "ready":
        access = config.load_kubeconfig(folder.kubeconfig)
        async with kube_client.Client(access, timeout=5) as api:
            listing = await api.get(resources.NODES.path())
        for node in listing["items"]:
            labels = node["metadata"].get("labels") or {}
            ready = next(
                (
                    item["status"]
                    for item in node.get("status", {}).get("conditions", [])
                    if item["type"] == "Ready"
                ),
                "Unknown",
            )
            nodes.append(NodeReport(node["metadata"]["name"], labels.get(pool_label, ""), ready))

    return Report(
        state_dir=folder.root,
        running=running,
        phase=status.phase if running else "stopped",
        message=status.message,
        components=processes,
        ports=status.ports,
        nodes=nodes,
        kubeconfig=folder.kubeconfig,
    )


def _tail(path: pathlib.Path, lines: int = 20) -> list[str]:
    try:
        return path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return []
