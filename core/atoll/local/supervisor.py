"""The supervisor of a local super-cluster: starts, watches over and stops its components.

`atoll up` starts this module as a detached process (`python -m atoll.local.supervisor`). It
holds the state folder's lock for its whole life, starts etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and the node simulator one after another (each must be
healthy before the next starts), waits until every simulated node is Ready, then reports
`ready` in `state.json`. A component that crashes later is restarted with backoff. SIGTERM
stops everything in reverse order, each with a deadline, and releases the lock.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import pathlib
import signal
import sys
import time

import structlog

from atoll.core import backoff, binaries, logging
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.local import components, credentials, health, ports, process, state
from atoll.local.nodesim import layout

log = structlog.get_logger("atoll.supervisor")

START_DEADLINE = 120.0
STOP_DEADLINE = 10.0


class Supervisor:
    """Runs one super-cluster in one state folder until asked to stop."""

    material: credentials.Credentials
    server: str

    def __init__(
        self,
        folder: state.StateDir,
        pools: tuple[layout.PoolSpec, ...],
        pool_label: str,
        node_grace: str,
    ) -> None:
        self.folder = folder
        self.pools = pools
        self.pool_label = pool_label
        self.node_grace = node_grace
        self.status = state.ClusterStatus(
            supervisor_pid=os.getpid(), pools=layout.format_pools(pools)
        )
        self.children: dict[str, process.ChildProcess] = {}
        self.stopping = asyncio.Event()

    def report(self, phase: state.Phase, message: str) -> None:
        self.status.phase = phase
        self.status.message = message
        self.status.pids = {
            name: child.pid for name, child in self.children.items() if child.pid is not None
        }
        self.folder.write_status(self.status)
        log.info("phase", phase=phase, message=message)

    async def run(self) -> int:
        """Start, serve until SIGTERM, stop; the exit code says whether start-up worked."""
        loop = asyncio.get_running_loop()
        for stop_signal in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(stop_signal, self.stopping.set)

        failure: Exception | None = None
        try:
            plan = self._plan()
            await self._start_all(plan)
            await self._wait_for_nodes()
            self.report("ready", "local super-cluster is ready")
            await self._watch_over(plan)
        except (health.StartupFailed, binaries.MissingBinary, TimeoutError) as error:
            failure = error
        finally:
            self._stop_all()

        # Reported only once every child is gone, so "failed" never leaves processes behind.
        if failure is not None:
            self.status.error_log = getattr(failure, "log_tail", [])
            self.report("failed", str(failure))
            return 1
        self.report("stopped", "local super-cluster stopped")
        return 0

    def _plan(self) -> list[components.Component]:
        # Everything that can be decided before the first process starts.
        found = binaries.find_all()
        previous = self.folder.read_status()
        self.status.ports = ports.allocate(previous.ports if previous else {})
        self.report("starting", "preparing certificates")
        self.material = credentials.ensure(self.folder.pki)
        self.server = f"https://127.0.0.1:{self.status.ports['kube-apiserver']}"
        credentials.write_kubeconfigs(self.material, self.server, self.folder.kubeconfig)

        chosen = self.status.ports
        return [
            components.etcd(found["etcd"], self.material, self.folder.etcd_data, chosen),
            components.kube_apiserver(found["kube-apiserver"], self.material, chosen),
            components.kube_controller_manager(
                found["kube-controller-manager"],
                self.material,
                chosen,
                node_monitor_grace_period=self.node_grace,
            ),
            components.kube_scheduler(found["kube-scheduler"], self.material, chosen),
            components.node_simulator(
                self.material, self.status.pools, self.folder.nodesim_control, self.pool_label
            ),
            components.operator(self.material, self.folder.root, chosen, self.pool_label),
        ]

    async def _start_all(self, plan: list[components.Component]) -> None:
        for component in plan:
            if self.stopping.is_set():
                raise health.StartupFailed("stop requested during start-up", [])
            self.report("starting", f"starting {component.name}")
            await self._start(component)

    async def _start(self, component: components.Component) -> None:
        child = process.ChildProcess(
            component.name, component.argv, self.folder.log_file(component.name)
        )
        self.children[component.name] = child
        child.start()
        if component.health_url:
            await health.wait_healthy(component, child, self.material, deadline=START_DEADLINE)

    async def _wait_for_nodes(self) -> None:
        """Ready once every simulated node reports Ready; stale nodes of old layouts go."""
        expected = {name for pool in self.pools for name in layout.node_names(pool)}
        self.report("starting", f"waiting for {len(expected)} simulated nodes")
        simulator = self.children["node-simulator"]
        give_up = time.monotonic() + START_DEADLINE

        async with kube_client.Client(self.material.access(self.server)) as api:
            await self._remove_stale_nodes(api, expected)
            while True:
                listing = await api.get(
                    resources.NODES.path(), params={"labelSelector": "atoll.dev/simulated=true"}
                )
                ready = {node["metadata"]["name"] for node in listing["items"] if _is_ready(node)}
                if expected <= ready:
                    return
                if not simulator.alive:
                    raise health.StartupFailed(
                        "node-simulator exited while starting", simulator.log_tail()
                    )
                if time.monotonic() > give_up:
                    missing = ", ".join(sorted(expected - ready))
                    raise health.StartupFailed(
                        f"nodes not Ready in time: {missing}", simulator.log_tail()
                    )
                await asyncio.sleep(0.3)

    async def _remove_stale_nodes(self, api: kube_client.Client, expected: set[str]) -> None:
        listing = await api.get(
            resources.NODES.path(), params={"labelSelector": "atoll.dev/simulated=true"}
        )
        for node in listing["items"]:
            name = node["metadata"]["name"]
            if name not in expected:
                log.info("stale_node_removed", node=name)
                with contextlib.suppress(errors.NotFound):
                    await api.delete(resources.NODES.path(name=name), uid=node["metadata"]["uid"])

    async def _watch_over(self, plan: list[components.Component]) -> None:
        """Restart crashed components (with backoff) until a stop is requested."""
        retries = {component.name: backoff.Backoff(1.0, 30.0) for component in plan}
        by_name = {component.name: component for component in plan}
        while not self.stopping.is_set():
            for name, child in list(self.children.items()):
                if child.alive:
                    continue
                log.warning(
                    "component_exited",
                    component=name,
                    code=child.exit_code,
                    log_tail=child.log_tail(5),
                )
                await asyncio.sleep(retries[name].next_delay())
                try:
                    await self._start(by_name[name])
                    retries[name].reset()
                except health.StartupFailed as failure:
                    log.warning("component_restart_failed", component=name, error=str(failure))
                self.report("ready", f"{name} restarted")
            try:
                await asyncio.wait_for(self.stopping.wait(), timeout=1.0)
            except TimeoutError:
                continue

    def _stop_all(self) -> None:
        self.status.phase = "stopping"
        self.folder.write_status(self.status)
        for name in reversed(list(self.children)):
            log.info("stopping", component=name)
            self.children[name].stop(STOP_DEADLINE)
        # Tenant control planes outlive an operator restart, not the whole cluster.
        process.stop_registered(self.folder.root / "vc", STOP_DEADLINE)


def _is_ready(node: kube_client.KubeObject) -> bool:
    conditions = node.get("status", {}).get("conditions") or []
    return any(item.get("type") == "Ready" and item.get("status") == "True" for item in conditions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m atoll.local.supervisor")
    parser.add_argument("--state-dir", required=True)
    parser.add_argument("--pools", default=layout.format_pools(layout.DEFAULT_POOLS))
    parser.add_argument("--pool-label", default=layout.POOL_LABEL)
    parser.add_argument("--node-grace", default="40s")
    parser.add_argument(
        "--detach",
        action="store_true",
        help="run in the background; print the supervisor's pid and return",
    )
    options = parser.parse_args(argv)

    folder = state.StateDir(pathlib.Path(options.state_dir).expanduser().resolve())
    folder.prepare()
    if options.detach:
        _detach(folder.log_file("supervisor"))
    logging.configure("json")
    try:
        lock = state.acquire_lock(folder)
    except state.AlreadyRunning as error:
        print(error, file=sys.stderr)  # noqa: T201 - the CLI shows this file to the user
        return 3

    with lock:
        supervisor = Supervisor(
            folder, layout.parse_pools(options.pools), options.pool_label, options.node_grace
        )
        return asyncio.run(supervisor.run())


def _detach(log_path: pathlib.Path) -> None:
    """Become a daemon: the caller gets our pid on stdout and returns at once."""
    child_pid = os.fork()
    if child_pid > 0:
        print(child_pid, flush=True)  # noqa: T201 - the launching CLI reads this line
        os._exit(0)

    # A session of our own: no terminal signals, and `atoll down` can kill the group.
    os.setsid()
    with pathlib.Path(os.devnull).open("rb") as devnull:
        os.dup2(devnull.fileno(), sys.stdin.fileno())
    with log_path.open("ab") as log_file:
        os.dup2(log_file.fileno(), sys.stdout.fileno())
        os.dup2(log_file.fileno(), sys.stderr.fileno())


if __name__ == "__main__":
    sys.exit(main())
