"""Waiting for a condition with a deadline: the one way atoll (and its tests) wait.

Nothing in atoll waits without a deadline and nothing sleeps in place of checking:
`until()` polls a check until it returns a value, and fails with a message naming what
was awaited and what was last seen.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    check: Callable[[], Awaitable[T | None]], *, timeout: float, what: str, interval: float = 0.2
) -> T:
    """Call `check` until it returns something other than None or False, at most `timeout` s."""
    give_up = time.monotonic() + timeout
    while True:
        result = await check()
        if result is not None and result is not False:
            return result
        if time.monotonic() > give_up:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(interval)
