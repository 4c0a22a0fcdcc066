"""`atoll pool list|disconnect|reconnect`: node pools, and the links of simulated edge sites.

`list` reads any super-cluster's nodes; `disconnect` and `reconnect` drive the local
super-cluster's node simulator through its control file, so an edge site can be cut off on
demand and autonomy watched at work. The logic lives in `atoll.local.cluster`.
"""

from __future__ import annotations

import dataclasses
import pathlib

import click

from atoll.cli import connection, output
from atoll.core import paths
from atoll.local import cluster, state
from atoll.local.nodesim import layout

STATE_DIR_OPTION = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help="State folder of the local super-cluster "
    "[default: $ATOLL_STATE_DIR or ~/.local/state/atoll].",
)
POOL_ARGUMENT = click.argument("pool_name", metavar="POOL")


def _folder(state_dir: pathlib.Path | None) -> state.StateDir:
    return state.StateDir((state_dir or paths.state_dir()).expanduser().resolve())


@click.group(name="pool")
def pool() -> None:
    """Node pools; cut and restore a simulated pool's link."""


@pool.command(name="list")
@STATE_DIR_OPTION
@output.FORMAT_OPTION
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="Super-cluster kubeconfig [default: the local super-cluster's].",
)
@connection.CONTEXT_OPTION
@click.option(
    "--pool-label",
    default=layout.POOL_LABEL,
    show_default=True,
    help="Node label that names a node's pool (KubeEdge: apps.kubeedge.io/belonging-to).",
)
def list_(
    *,
    state_dir: pathlib.Path | None,
    output_format: output.OutputFormat,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    pool_label: str,
) -> None:
    """List the pools: type, nodes ready/total, link, pods.

    The link is known for the local super-cluster only.
    """
    folder = _folder(state_dir)
    local = kubeconfig is None or kubeconfig.expanduser().resolve() == folder.kubeconfig
    if kubeconfig is None and not folder.is_locked():
        raise output.Failure(
            f"no local super-cluster running in {folder.root}: `atoll up` starts one, "
            f"or pass --kubeconfig"
        )
    target = connection.resolve(kubeconfig or folder.kubeconfig, context)
    try:
        # Only the local simulator's links are known; elsewhere the column stays empty.
        disconnected = cluster.disconnected_pools(folder) if local else None
    except ValueError as error:
        raise output.Failure(str(error)) from error

    reports: list[cluster.PoolReport] = connection.run_api(
        target,
        lambda api: cluster.pools(api, pool_label=pool_label, disconnected=disconnected),
    )
    if output_format != "table":
        output.data([dataclasses.asdict(report) for report in reports], output_format)
        return
    if not reports:
        output.stderr.print(f"no node carries the label {pool_label}")
        return
    output.table(
        ["pool", "type", "ready", "connected", "pods"],
        [
            (
                report.name,
                report.type,
                f"{report.ready}/{report.nodes}",
                {True: "yes", False: "no", None: "-"}[report.connected],
                report.pods,
            )
            for report in reports
        ],
    )


@pool.command()
@POOL_ARGUMENT
@STATE_DIR_OPTION
def disconnect(pool_name: str, state_dir: pathlib.Path | None) -> None:
    """Cut a simulated pool's link; its pods stay bound.

    Its nodes fall silent and turn Unknown after the node grace period.
    """
    folder = _folder(state_dir)
    edge = _change_link(folder, pool_name, connected=False)
    if edge is None:
        output.stderr.print(f"pool {pool_name} is already disconnected", markup=False)
        return
    output.stderr.print(
        f"pool {pool_name} disconnected: nodes of {pool_name} stop heartbeating; they turn "
        f"Unknown after the node grace period (40s by default); pods stay bound and turn "
        f"NotReady with their node until `atoll pool reconnect {pool_name}`",
        markup=False,
    )
    if edge:
        output.stderr.print(
            "VirtualCluster pods on an edge pool tolerate the dark node for their "
            "spec.autonomy (one day by default)",
            markup=False,
        )
    else:
        output.stderr.print(
            f"{pool_name} is a cloud pool: its pods get no autonomy tolerations and are "
            f"evicted once their own run out (300s by default)",
            markup=False,
        )


@pool.command()
@POOL_ARGUMENT
@STATE_DIR_OPTION
def reconnect(pool_name: str, state_dir: pathlib.Path | None) -> None:
    """Restore a simulated pool's link; its nodes turn Ready."""
    folder = _folder(state_dir)
    if _change_link(folder, pool_name, connected=True) is None:
        output.stderr.print(f"pool {pool_name} is already connected", markup=False)
        return
    output.stderr.print(
        f"pool {pool_name} reconnected: nodes of {pool_name} heartbeat again within seconds "
        f"and turn Ready; pod status flows again",
        markup=False,
    )


def _change_link(folder: state.StateDir, pool_name: str, *, connected: bool) -> bool | None:
    """Whether the pool is an edge pool once changed; None when nothing had to change."""
    try:
        changed = cluster.set_pool_link(folder, pool_name, connected=connected)
        edge = next(spec.edge for spec in cluster.simulated_pools(folder) if spec.name == pool_name)
    except (cluster.UnknownPool, cluster.NotRunning, ValueError) as error:
        raise output.Failure(str(error)) from error
    return edge if changed else None
