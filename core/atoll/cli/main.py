"""Entry point of the `atoll` command: the group and its global options.

Exit codes: 0 success, 1 failure (the message says what to fix), 2 usage error.
"""

from __future__ import annotations

import importlib.metadata

import click

from atoll.cli import local, pools, processes, virtualclusters
from atoll.core import logging, paths


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default="auto",
    show_default=True,
    help="Log lines as JSON, or readable on a terminal.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def cli(log_format: logging.LogFormat, verbose: bool) -> None:
    """atoll: virtual Kubernetes clusters for many tenants, on shared and edge node pools."""
    logging.configure(log_format, "debug" if verbose else "info")


@cli.command()
def version() -> None:
    """Print atoll's version and the Kubernetes version it runs."""
    click.echo(f"atoll {importlib.metadata.version('atoll')} (Kubernetes {paths.KUBE_VERSION})")


cli.add_command(local.up)
cli.add_command(local.down)
cli.add_command(local.status)
cli.add_command(pools.pool)
for command in (
    virtualclusters.create,
    virtualclusters.list_,
    virtualclusters.get,
    virtualclusters.kubeconfig,
    virtualclusters.delete,
    processes.operator,
    processes.syncer,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="atoll")
