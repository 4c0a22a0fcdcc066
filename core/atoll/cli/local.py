"""`atoll up`, `atoll down`, `atoll status`: the local super-cluster from the command line."""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import shutil

import click

from atoll.cli import output
from atoll.core import binaries, paths
from atoll.local import cluster, state
from atoll.local.nodesim import layout

STATE_DIR_OPTION = click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help="State folder [default: $ATOLL_STATE_DIR or ~/.local/state/atoll].",
)


def _folder(state_dir: pathlib.Path | None) -> state.StateDir:
    return state.StateDir((state_dir or paths.state_dir()).expanduser().resolve())


def _check_pools(
    _context: click.Context, _parameter: click.Parameter, value: str | None
) -> str | None:
    if value is None:
        return None
    try:
        return layout.format_pools(layout.parse_pools(value))
    except ValueError as error:
        raise click.BadParameter(str(error)) from error


@click.command()
@STATE_DIR_OPTION
@click.option(
    "--pools",
    callback=_check_pools,
    default=None,
    help="Simulated node pools as NAME:COUNT[:edge|cloud],… "
    "[default: the previous layout, else cloud:1,edge-a:2,edge-b:2].",
)
@click.option(
    "--pool-label",
    default=layout.POOL_LABEL,
    show_default=True,
    help="Node label that names a node's pool.",
)
@click.option(
    "--node-grace",
    default="40s",
    show_default=True,
    help="How long a silent node stays Ready before it turns Unknown.",
)
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
def up(
    state_dir: pathlib.Path | None,
    pools: str | None,
    pool_label: str,
    node_grace: str,
    timeout: float,
) -> None:
    """Start the local super-cluster; return once it is ready."""
    folder = _folder(state_dir)
    try:
        with output.progress("starting the local super-cluster") as report:
            status = cluster.up(
                folder,
                pools=pools,
                pool_label=pool_label,
                node_grace=node_grace,
                timeout=timeout,
                progress=report,
            )
    except (state.AlreadyRunning, binaries.MissingBinary) as error:
        output.fail(str(error))
    except cluster.StartFailed as error:
        output.fail(f"{error} (logs in {folder.logs})", error.log_tail)

    output.stderr.print(
        f"local super-cluster ready: pools {status.pools}, "
        f"API https://127.0.0.1:{status.ports['kube-apiserver']}"
    )
    click.echo(f"export KUBECONFIG={folder.kubeconfig}")
    if shutil.which("kubectl") is None:
        try:
            click.echo(f"export PATH={binaries.find('kubectl').parent}:$PATH")
        except binaries.MissingBinary:
            output.stderr.print("kubectl not found: `make binaries` builds one")


@click.command()
@STATE_DIR_OPTION
@click.option("--timeout", default=60.0, show_default=True, help="Seconds before SIGKILL.")
def down(state_dir: pathlib.Path | None, timeout: float) -> None:
    """Stop the local super-cluster; its data stays."""
    folder = _folder(state_dir)
    if cluster.down(folder, timeout=timeout):
        output.stderr.print(f"local super-cluster in {folder.root} stopped")
    else:
        output.stderr.print(f"no local super-cluster running in {folder.root}")


@click.command()
@STATE_DIR_OPTION
@output.FORMAT_OPTION
def status(state_dir: pathlib.Path | None, output_format: output.OutputFormat) -> None:
    """Show the local super-cluster's components, pools and nodes."""
    report = asyncio.run(cluster.report(_folder(state_dir)))
    if output_format != "table":
        output.data(dataclasses.asdict(report), output_format)
        return

    output.stdout.print(
        f"state dir   {report.state_dir}\nphase       {report.phase}"
        f"{'  (' + report.message + ')' if report.message else ''}"
    )
    if report.running:
        output.stdout.print(f"kubeconfig  {report.kubeconfig}\n")
        output.table(
            ["component", "port", "process"],
            [
                (name, report.ports.get(name, "-"), "running" if alive else "exited")
                for name, alive in report.components.items()
            ],
        )
        output.stdout.print()
        output.table(
            ["node", "pool", "ready"], [(node.name, node.pool, node.ready) for node in report.nodes]
        )
