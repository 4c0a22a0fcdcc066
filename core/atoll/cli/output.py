"""How the CLI speaks: data on stdout, everything else on stderr.

Every command that returns data takes `-o table|json|yaml`; tables are for people, JSON and
YAML for scripts, and stdout carries nothing else. Progress of long waits goes to stderr: a
spinner on a terminal, one structlog line per change of step otherwise. Failures are one
message on stderr naming the fix, never a traceback, and exit code 1.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Literal, NoReturn

import click
import rich.console
import rich.markup
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
stderr = rich.console.Console(stderr=True, highlight=False, soft_wrap=True)
log = structlog.get_logger("atoll.cli")


class Failure(Exception):
    """A command cannot go on; the message says what to fix, `details` are the evidence."""

    def __init__(self, message: str, details: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.details = tuple(details)


def interactive() -> bool:
    return sys.stderr.isatty()


@contextlib.contextmanager
def progress(title: str) -> Iterator[Callable[[str], None]]:
    """Yields a callable that reports a step: a live spinner on a terminal, a log line else.

    Off a terminal a step is logged once, when it changes, so a long wait stays short in logs.
    """
    if interactive():
        with stderr.status(title) as spinner:
            yield lambda message: spinner.update(f"{title}: {message}")
        return

    last: list[str] = []

    def report(message: str) -> None:
        if last != [message]:
            last[:] = [message]
            log.info("progress", what=title, step=message)

    yield report


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    grid = rich.table.Table(box=None, pad_edge=False, header_style="bold")
    for header in headers:
        grid.add_column(header.upper())
    for row in rows:
        grid.add_row(*(str(cell) for cell in row))
    stdout.print(grid)


def columns(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: int = 0) -> list[str]:
    """Plain aligned columns, as text lines (no colour, no wrapping): for `describe`."""
    cells = [[header.upper() for header in headers], *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(line[index]) for line in cells) for index in range(len(headers))]
    return [
        " " * indent
        + "   ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    ]


def data(value: object, output_format: OutputFormat) -> None:
    """Print machine-readable output; plain text, no colour, so pipes get clean data."""
    if output_format == "json":
        click.echo(json.dumps(value, indent=2, default=str))
    else:
        click.echo(yaml.safe_dump(value, sort_keys=False, default_flow_style=False), nl=False)


def fail(message: str, details: Sequence[str] = ()) -> NoReturn:
    """Say what went wrong (and the evidence), then exit with code 1."""
    stderr.print(f"[bold red]error:[/] {rich.markup.escape(message)}", markup=True)
    for line in details:
        stderr.print(f"  {line}", markup=False)
    raise SystemExit(1)
