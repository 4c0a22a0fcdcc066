"""Entry point of the `atoll` command: the group, its global options and its failure policy.

Every command is registered here. Whatever a command raises ends as one message on stderr
and exit code 1 (`-v` shows the traceback too); usage errors are click's, exit code 2.
"""

from __future__ import annotations

import importlib.metadata

import click

from atoll.cli import (
    completion,
    connect,
    describe,
    local,
    output,
    pausing,
    pools,
    processes,
    virtualclusters,
)
from atoll.core import logging, paths
from atoll.core.kube import config

EPILOG = """\b
Exit codes:
  0  success
  1  failure: the message on stderr says what to fix
  2  usage error: an unknown command or option, a missing or wrong argument

\b
Data goes to stdout (-o table|json|yaml where a command returns data); messages and the
progress of long waits go to stderr. Shell completion: see `atoll completion --help`.
"""


class AtollGroup(click.Group):
    """A click group that turns any failure of a command into a message and exit code 1."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except output.Failure as failure:
            output.fail(str(failure), failure.details)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except (config.KubeconfigError, TimeoutError, OSError) as error:
            if ctx.params.get("verbose"):
                raise
            output.fail(str(error))
        except Exception as error:
            if ctx.params.get("verbose"):
                raise
            output.fail(
                f"{type(error).__name__}: {error}",
                [f"`atoll -v {ctx.invoked_subcommand or ''} …` shows where it happened"],
            )


@click.group(
    cls=AtollGroup,
    context_settings={"help_option_names": ["-h", "--help"]},
    epilog=EPILOG,
)
@click.option(
    "--log-format",
    type=click.Choice(["auto", "json", "console"]),
    default="auto",
    show_default=True,
    help="Log lines as JSON, or readable on a terminal.",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging, and tracebacks of failures.")
def cli(log_format: logging.LogFormat, verbose: bool) -> None:
    """atoll: virtual Kubernetes clusters for many tenants, on shared and edge node pools."""
    logging.configure(log_format, "debug" if verbose else "info")


@cli.command()
@output.FORMAT_OPTION
def version(output_format: output.OutputFormat) -> None:
    """Print atoll's version and the Kubernetes version it runs."""
    versions = {"atoll": importlib.metadata.version("atoll"), "kubernetes": paths.KUBE_VERSION}
    if output_format != "table":
        output.data(versions, output_format)
        return
    click.echo(f"atoll {versions['atoll']} (Kubernetes {versions['kubernetes']})")


for command in (
    local.up,
    local.down,
    local.status,
    pools.pool,
    virtualclusters.create,
    virtualclusters.list_,
    virtualclusters.get,
    describe.describe,
    virtualclusters.kubeconfig,
    connect.connect,
    pausing.pause,
    pausing.resume,
    virtualclusters.delete,
    processes.operator,
    processes.syncer,
    completion.completion,
):
    cli.add_command(command)


def main() -> None:
    cli(prog_name="atoll")
