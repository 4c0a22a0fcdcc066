"""`atoll operator`: the long-running processes, started from the command line."""

from __future__ import annotations

import asyncio
import datetime
import pathlib

import click

from atoll.core import paths
from atoll.local.nodesim import layout
from atoll.operator import main as operator_main
from atoll.operator import settings as operator_settings


@click.command()
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    envvar="KUBECONFIG",
    required=True,
    help="Super-cluster kubeconfig.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help="Where process-provisioned control planes live "
    "[default: $ATOLL_STATE_DIR or ~/.local/state/atoll].",
)
@click.option(
    "--default-provisioner",
    type=click.Choice(["process", "kubernetes"]),
    default="process",
    show_default=True,
    envvar="ATOLL_DEFAULT_PROVISIONER",
    help="Provisioner of VirtualClusters that name none.",
)
@click.option(
    "--install-crds/--no-install-crds",
    default=True,
    show_default=True,
    help="Apply atoll's CRDs and the default ClusterVersion at start.",
)
@click.option(
    "--liveness",
    default=None,
    metavar="URL",
    help="Serve liveness on this URL, e.g. http://0.0.0.0:8080/healthz.",
)
@click.option(
    "--pool-label",
    default=layout.POOL_LABEL,
    show_default=True,
    help="Node label that names a node's pool.",
)
@click.option(
    "--renew-before-days",
    default=30,
    show_default=True,
    help="Renew tenant certificates this many days before they expire.",
)
def operator(
    *,
    kubeconfig: pathlib.Path,
    state_dir: pathlib.Path | None,
    default_provisioner: str,
    install_crds: bool,
    liveness: str | None,
    pool_label: str,
    renew_before_days: int,
) -> None:
    """Run the VirtualCluster operator (until SIGTERM)."""
    settings = operator_settings.Settings(
        state_dir=(state_dir or paths.state_dir()).expanduser().resolve(),
        default_provisioner="kubernetes" if default_provisioner == "kubernetes" else "process",
        renew_before=datetime.timedelta(days=renew_before_days),
        pool_label=pool_label,
    )
    asyncio.run(
        operator_main.run(kubeconfig, settings, install_crds=install_crds, liveness=liveness)
    )
