"""Logging set-up shared by every atoll process.

Logs are structlog key/value events on stderr: readable, coloured console lines when stderr
is a terminal, one JSON object per line otherwise (for log collectors and for the files the
local super-cluster keeps). Call `configure()` once at process start.
"""

from __future__ import annotations

import logging
import sys
from typing import Literal

import orjson
import structlog

LogFormat = Literal["auto", "json", "console"]


def _orjson_dumps(value: object, **_: object) -> str:
    return orjson.dumps(value, default=str).decode()


def configure(log_format: LogFormat = "auto", level: str = "info") -> None:
    """Route structlog (and the standard library's logging) to stderr in the chosen format."""
    use_console = log_format == "console" or (log_format == "auto" and sys.stderr.isatty())
    renderer: structlog.typing.Processor = (
        structlog.dev.ConsoleRenderer(colors=True)
        if use_console
        else structlog.processors.JSONRenderer(serializer=_orjson_dumps)
    )
    numeric_level = logging.getLevelNamesMapping()[level.upper()]

    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric_level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )

    # Libraries (kopf, aiohttp) log through the standard library: keep them at warning.
    logging.basicConfig(
        stream=sys.stderr,
        level=max(numeric_level, logging.WARNING),
        format="%(levelname)s %(name)s: %(message)s",
        force=True,
    )
