"""Client-side operations on a local super-cluster: start it, stop it, report on it.

The CLI calls these; they talk to the supervisor only through the state folder (its lock and
`state.json`) and to the cluster only through its API, so they work the same from any shell.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fcntl
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping

from atoll.core import binaries
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources
from atoll.local import process, state
from atoll.local.nodesim import control, layout
from atoll.local.nodesim import nodes as sim_nodes

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


# Node pools: what `atoll pool` shows of the super-cluster, and the simulated links it cuts.

NON_TERMINAL_BOUND_PODS = "spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed"
NODEPOOL_GROUP = "/apis/apps.openyurt.io"


class UnknownPool(Exception):
    """The local super-cluster has no pool of that name; `known` lists the ones it has."""

    def __init__(self, message: str, known: tuple[str, ...]) -> None:
        super().__init__(message)
        self.known = known


class NotRunning(Exception):
    """No local super-cluster runs in the state folder."""


@dataclasses.dataclass(frozen=True)
class PoolReport:
    """One pool as `atoll pool list` shows it."""

    name: str
    type: str  # "Edge" or "Cloud"
    nodes: int
    ready: int
    connected: bool | None  # None: not known (only a local super-cluster's links are)
    pods: int  # bound to its nodes and not finished


def summarize_pools(
    nodes: Iterable[kube_client.KubeObject],
    pods: Iterable[kube_client.KubeObject],
    *,
    pool_label: str = layout.POOL_LABEL,
    disconnected: frozenset[str] | None = None,
    pool_types: Mapping[str, str] | None = None,
) -> list[PoolReport]:
    """Group nodes into pools by `pool_label`; nodes without it belong to no pool.

    A pool's type is the one `pool_types` gives it (OpenYurt's NodePool objects), else Edge
    when its nodes are edge workers by their label, else Cloud — as the syncer decides.
    """
    pool_of: dict[str, str] = {}
    members: dict[str, list[kube_client.KubeObject]] = {}
    for node in nodes:
        labels = node["metadata"].get("labels") or {}
        if pool := labels.get(pool_label):
            pool_of[node["metadata"]["name"]] = pool
            members.setdefault(pool, []).append(node)

    # Pods count where they are bound; finished pods hold nothing.
    pod_counts = collections.Counter(
        pool_of[bound_to]
        for pod in pods
        if (bound_to := (pod.get("spec") or {}).get("nodeName")) in pool_of
        and (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed")
    )

    return [
        PoolReport(
            name=pool,
            type=_pool_type(pool, pool_nodes, pool_types or {}),
            nodes=len(pool_nodes),
            ready=sum(_node_ready(node) == "True" for node in pool_nodes),
            connected=None if disconnected is None else pool not in disconnected,
            pods=pod_counts[pool],
        )
        for pool, pool_nodes in sorted(members.items())
    ]


async def pools(
    api: kube_client.Client,
    *,
    pool_label: str = layout.POOL_LABEL,
    disconnected: frozenset[str] | None = None,
) -> list[PoolReport]:
    """The pools of the cluster behind `api`, from its nodes and the pods bound to them."""
    nodes = await api.get(resources.NODES.path(), params={"labelSelector": pool_label})
    pods = await api.get(resources.PODS.path(), params={"fieldSelector": NON_TERMINAL_BOUND_PODS})
    return summarize_pools(
        nodes["items"],
        pods["items"],
        pool_label=pool_label,
        disconnected=disconnected,
        pool_types=await nodepool_types(api),
    )


async def nodepool_types(api: kube_client.Client) -> dict[str, str]:
    """Pool name → type of OpenYurt's NodePool objects; empty where that API is not served."""
    try:
        group = await api.get(NODEPOOL_GROUP)
        version = group["preferredVersion"]["groupVersion"]
        listing = await api.get(f"/apis/{version}/nodepools")
    except (errors.NotFound, KeyError):
        return {}
    return {
        pool["metadata"]["name"]: str((pool.get("spec") or {}).get("type") or "")
        for pool in listing["items"]
    }


def simulated_pools(folder: state.StateDir) -> tuple[layout.PoolSpec, ...]:
    """The pools the local super-cluster's node simulator plays (its last layout)."""
    status = folder.read_status()
    if status is None or not status.pools:
        raise NotRunning(f"no local super-cluster in {folder.root}: `atoll up` starts one")
    return layout.parse_pools(status.pools)


def disconnected_pools(folder: state.StateDir) -> frozenset[str]:
    """The pools whose link is cut; a `ValueError` when the control file is damaged."""
    return control.read_control(folder.nodesim_control)


def set_pool_link(folder: state.StateDir, pool: str, *, connected: bool) -> bool:
    """Cut or restore the link of a simulated pool; False when it already was so.

    The node simulator picks the change up within about a second. Cutting needs a running
    cluster: `atoll up` with a pool already cut would fail waiting for that pool's nodes.
    Restoring works on a stopped one too.
    """
    known = simulated_pools(folder)
    names = tuple(spec.name for spec in known)
    if pool not in names:
        raise UnknownPool(
            f"no pool {pool!r} in the local super-cluster in {folder.root} "
            f"(its pools: {', '.join(names)})",
            names,
        )
    if not connected and not folder.is_locked():
        raise NotRunning(
            f"the local super-cluster in {folder.root} is not running: `atoll up` first"
        )

    # Two commands at once must not lose each other's change: read and write under a lock.
    with _folder_lock(folder):
        current = disconnected_pools(folder)
        wanted = current - {pool} if connected else current | {pool}
        if wanted == current:
            return False
        control.write_control(folder.nodesim_control, wanted)
    return True


@contextlib.contextmanager
def _folder_lock(folder: state.StateDir) -> Iterator[None]:
    descriptor = os.open(folder.root, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _pool_type(
    pool: str, pool_nodes: list[kube_client.KubeObject], pool_types: Mapping[str, str]
) -> str:
    # A NodePool object has the last word, whatever its nodes' labels say.
    if pool in pool_types:
        return "Edge" if pool_types[pool].lower() == "edge" else "Cloud"
    return "Edge" if any(_is_edge(node) for node in pool_nodes) else "Cloud"


def _is_edge(node: kube_client.KubeObject) -> bool:
    labels = node["metadata"].get("labels") or {}
    return bool(labels.get(sim_nodes.EDGE_LABEL) == "true")


def _node_ready(node: kube_client.KubeObject) -> str:
    conditions = (node.get("status") or {}).get("conditions") or []
    return next((str(item["status"]) for item in conditions if item["type"] == "Ready"), "Unknown")
