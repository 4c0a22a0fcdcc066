"""Exponential backoff with jitter, for every retry loop in atoll.

Retries must not hammer a server that is struggling, and many clients retrying in step must
spread out: each delay doubles up to a ceiling and is jittered by up to a quarter.
"""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """Delays of `initial`, doubling to `ceiling`; `reset()` after a success."""

    def __init__(self, initial: float = 0.2, ceiling: float = 10.0) -> None:
        self.initial = initial
        self.ceiling = ceiling
        self._next = initial

    def reset(self) -> None:
        self._next = self.initial

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.ceiling)
        return delay * random.uniform(0.75, 1.25)  # noqa: S311 - jitter, not cryptography

    async def sleep(self) -> None:
        await asyncio.sleep(self.next_delay())
