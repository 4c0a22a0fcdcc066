"""The node simulator's entry point: command line, wiring, and a clean stop on a signal.

The local super-cluster's supervisor starts `python -m atoll.local.nodesim` once the API
server answers. `run` wires one `heartbeat.NodeAgent` per node, one `pods.PodRunner`, the
control-file follower and the two stand-ins for a cloud, `storage.VolumeProvisioner` and
`loadbalancers.LoadBalancers`, around one API client, and runs them until it is cancelled;
`main` cancels it on SIGTERM or SIGINT and exits 0. Node objects, volumes and their folders
are left in place on exit: a restarted local cluster keeps them, as real machines keep theirs.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import pathlib
import signal
from collections.abc import Sequence

import structlog

from atoll.core import logging, runtime
from atoll.core.kube import client as kube_client
from atoll.core.kube import config
from atoll.local.nodesim import control, heartbeat, layout, loadbalancers, pods, storage

log = structlog.get_logger("atoll.nodesim")


@dataclasses.dataclass(frozen=True)
class Options:
    """Everything the simulator is told at start."""

    kubeconfig: pathlib.Path
    control: pathlib.Path
    volumes: pathlib.Path | None = None  # None: a `volumes` folder beside the control file
    pools: tuple[layout.PoolSpec, ...] = layout.DEFAULT_POOLS
    pool_label: str = layout.POOL_LABEL
    lease_interval: float = 10.0
    status_interval: float = 60.0
    max_writes: int = 32
    log_format: logging.LogFormat = "auto"
    log_level: str = "info"


async def run(options: Options) -> None:
    """Simulate the nodes of `options.pools` until cancelled."""
    access = config.load_kubeconfig(options.kubeconfig)
    sim_nodes = layout.sim_nodes(options.pools)
    control_file = control.ControlFile(options.control)
    links = control.Links(control_file.poll() or frozenset())
    writes = asyncio.Semaphore(options.max_writes)
    known_pools = frozenset(pool.name for pool in options.pools)

    # Room for every write at once, plus the reads and the pod watch that run beside them.
    async with kube_client.Client(
        access, max_connections=options.max_writes * 2, user_agent="atoll-nodesim"
    ) as client:
        runner = pods.PodRunner(client, sim_nodes, links, writes, workers=options.max_writes)
        provisioner = storage.VolumeProvisioner(client, writes, volumes_folder(options))
        balancers = loadbalancers.LoadBalancers(client, writes)
        agents = [
            heartbeat.NodeAgent(
                client,
                node,
                links,
                writes,
                pool_label=options.pool_label,
                lease_interval=options.lease_interval,
                status_interval=options.status_interval,
            )
            for node in sim_nodes
        ]
        log.info(
            "nodesim_started",
            server=access.server,
            pools=layout.format_pools(options.pools),
            nodes=len(sim_nodes),
            disconnected=sorted(links.disconnected),
            volumes=str(provisioner.root),
        )

        async with asyncio.TaskGroup() as group:
            group.create_task(
                control.follow(control_file, links, runner.rescan, known_pools=known_pools)
            )
            group.create_task(runner.run())
            group.create_task(provisioner.run())
            group.create_task(balancers.run())
            for agent in agents:
                group.create_task(agent.run())


def volumes_folder(options: Options) -> pathlib.Path:
    """Where simulated volumes keep their folders: `--volumes`, or beside the control file."""
    return options.volumes or options.control.parent / "volumes"


def parse_args(argv: Sequence[str] | None = None) -> Options:
    """Read the command line; errors exit with status 2 and a message, as argparse does."""
    parser = argparse.ArgumentParser(
        prog="python -m atoll.local.nodesim",
        description="Play the kubelets of simulated node pools against a real API server.",
    )
    parser.add_argument("--kubeconfig", type=pathlib.Path, required=True)
    parser.add_argument(
        "--pools",
        type=_pools,
        default=layout.format_pools(layout.DEFAULT_POOLS),
        help="name:count[:edge|cloud],… (default: %(default)s)",
    )
    parser.add_argument(
        "--control",
        type=pathlib.Path,
        required=True,
        help='JSON file {"disconnected": [pool, …]}, re-read when it changes',
    )
    parser.add_argument(
        "--volumes",
        type=pathlib.Path,
        metavar="DIR",
        help="folder of the simulated volumes (default: 'volumes' beside the control file)",
    )
    parser.add_argument("--pool-label", default=layout.POOL_LABEL)
    parser.add_argument("--lease-interval", type=_positive, default=10.0, metavar="SECONDS")
    parser.add_argument("--status-interval", type=_positive, default=60.0, metavar="SECONDS")
    parser.add_argument("--max-writes", type=int, default=32, help="concurrent API writes")
    parser.add_argument("--log-format", choices=("auto", "json", "console"), default="auto")
    parser.add_argument("--log-level", choices=("debug", "info", "warning"), default="info")
    args = parser.parse_args(argv)

    if args.max_writes < 1:
        parser.error("--max-writes must be at least 1")
    return Options(
        kubeconfig=args.kubeconfig,
        control=args.control,
        volumes=args.volumes,
        pools=args.pools,
        pool_label=args.pool_label,
        lease_interval=args.lease_interval,
        status_interval=args.status_interval,
        max_writes=args.max_writes,
        log_format=args.log_format,
        log_level=args.log_level,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the simulator until SIGTERM or SIGINT; the process's exit status."""
    options = parse_args(argv)
    logging.configure(options.log_format, options.log_level)
    try:
        runtime.run(_serve(options))
    except config.KubeconfigError as error:
        log.error("nodesim_failed", error=str(error))
        return 1
    return 0


async def _serve(options: Options) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    work = asyncio.create_task(run(options))
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({work, stopping}, return_when=asyncio.FIRST_COMPLETED)

    stopping.cancel()
    if not work.done():
        work.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await work
        log.info("nodesim_stopped")
        return
    work.result()


def _pools(text: str) -> tuple[layout.PoolSpec, ...]:
    # argparse replaces a ValueError's message with a generic one; keep ours.
    try:
        return layout.parse_pools(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be more than 0 seconds")
    return value
