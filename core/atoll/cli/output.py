"""How the CLI speaks: progress and tables on a terminal, structured data everywhere else.

Every command that returns data takes `-o table|json|yaml`. Progress of long waits is a
spinner on a terminal and JSON log lines (structlog) when output is redirected.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Literal

import click
import rich.console
import rich.table
import structlog
import yaml

OutputFormat = Literal["table", "json", "yaml"]
FORMAT_OPTION = click.option(
    "-o",
    "--output",
    "output_format",
    default="table",
    type=click.Choice(["table", "json", "yaml"]),
    show_default=True,
    help="Output format.",
)

stdout = rich.console.Console(highlight=False, soft_wrap=True)
stderr = rich.console.Console(stderr=True, highlight=False)
log = structlog.get_logger("atoll.cli")


def interactive() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress(title: str) -> Iterator[Any]:
    """Yields a callable that reports a step: a live spinner on a terminal, a log line else."""
    if interactive():
        with stderr.status(title) as spinner:
            yield lambda message: spinner.update(f"{title}: {message}")
    else:
        yield lambda message: log.info("progress", step=message)


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    grid = rich.table.Table(box=None, pad_edge=False, header_style="bold")
    for header in headers:
        grid.add_column(header.upper())
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    stdout.print(grid)


def data(value: object, output_format: OutputFormat) -> None:
    """Print machine-readable output; plain text, no colour, so pipes get clean data."""
    if output_format == "json":
        click.echo(json.dumps(value, indent=2, default=str))
    else:
        click.echo(yaml.safe_dump(value, sort_keys=False, default_flow_style=False), nl=False)


def fail(message: str, details: Sequence[str] = ()) -> None:
    """Say what went wrong (and the evidence), then exit with code 1."""
    stderr.print(f"[bold red]error:[/] {message}", markup=True)
    for line in details:
        stderr.print(f"  {line}", markup=False)
    raise SystemExit(1)
