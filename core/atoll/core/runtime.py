"""The event loop of atoll's long-running processes: uvloop.

The operator with its embedded syncer, the syncer alone and the node simulator spend most of
their CPU moving HTTPS bytes (watch streams, API writes); a profile of the syncer under a
1000-pod burst shows the event loop's transports and TLS as the largest share. uvloop runs
the same asyncio programs on libuv, with those parts in compiled code. Short CLI commands
keep the standard loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvloop

Result = TypeVar("Result")


def run(main: Coroutine[Any, Any, Result]) -> Result:
    """`asyncio.run(main)`, on uvloop."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)
