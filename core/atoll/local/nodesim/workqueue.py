"""A queue of object keys for a pool of workers, in the manner of client-go's workqueue.

Watch events arrive faster than API writes finish. A key waits in the queue at most once, is
handed to one worker at a time, and a key that changes while a worker holds it goes back in
the queue when that worker is done, so the newest state is always seen and no object is
written by two workers at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import structlog

log = structlog.get_logger("atoll.nodesim")


class KeyQueue:
    """Keys to work on: `add` from watch events, `get` and `done` in workers."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()

    def __len__(self) -> int:
        return len(self._queued)

    def add(self, key: str) -> None:
        """Ask for work on `key`; a no-op when it is already waiting."""
        if key in self._active:
            self._dirty.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_later(self, key: str, delay: float) -> None:
        """Ask for work on `key` after `delay` seconds, for a retry."""
        asyncio.get_running_loop().call_later(delay, self.add, key)

    async def get(self) -> str:
        """The next key; the caller owns it until it calls `done`."""
        key = await self._queue.get()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: str) -> None:
        """Release `key`; it is queued again if it changed while it was held."""
        self._active.discard(key)
        if key in self._dirty:
            self._dirty.discard(key)
            self.add(key)


async def serve(queue: KeyQueue, sync: Callable[[str], Awaitable[None]], *, what: str) -> None:
    """Work on `queue`'s keys with `sync`, forever; one odd key never stops the others."""
    while True:
        key = await queue.get()
        try:
            await sync(key)
        except Exception:
            log.exception("sync_crashed", what=what, key=key)
        finally:
            queue.done(key)
