"""The syncer's work queue: one queue per tenant, served round-robin.

Work items are `(kind, key)` pairs. Within a tenant an item waits at most once, is handed to
one worker at a time, and comes back if it changed while held (so the newest state is always
synced and no object is written twice at once). Across tenants, workers take one item from
each tenant with work in turn, so a burst of a thousand pods in one tenant delays another
tenant's pod by one turn, not by a thousand.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time

Item = tuple[str, str]  # (kind, key)


@dataclasses.dataclass
class _TenantQueue:
    waiting: collections.OrderedDict[Item, float] = dataclasses.field(
        default_factory=collections.OrderedDict
    )  # item → when it was first queued
    active: set[Item] = dataclasses.field(default_factory=set)
    dirty: set[Item] = dataclasses.field(default_factory=set)


class FairQueue:
    """`add` from watch events, `get`/`done` in workers, `forget` when a tenant leaves."""

    def __init__(self) -> None:
        self._tenants: dict[str, _TenantQueue] = {}
        self._turns: collections.deque[str] = collections.deque()  # tenants with work waiting
        self._work = asyncio.Event()

    def add(self, tenant: str, item: Item) -> None:
        queue = self._tenants.setdefault(tenant, _TenantQueue())
        if item in queue.active:
            queue.dirty.add(item)
            return
        if item in queue.waiting:
            return
        queue.waiting[item] = time.monotonic()
        if tenant not in self._turns:
            self._turns.append(tenant)
        self._work.set()

    def add_later(self, tenant: str, item: Item, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.add, tenant, item)

    async def get(self) -> tuple[str, Item, float]:
        """The next `(tenant, item, seconds it waited)`; the caller must call `done`."""
        while not self._turns:
            self._work.clear()
            await self._work.wait()
        tenant = self._turns.popleft()
        queue = self._tenants[tenant]
        item, queued_at = queue.waiting.popitem(last=False)
        queue.active.add(item)
        if queue.waiting:
            self._turns.append(tenant)
        return tenant, item, time.monotonic() - queued_at

    def done(self, tenant: str, item: Item) -> None:
        queue = self._tenants.get(tenant)
        if queue is None:
            return
        queue.active.discard(item)
        if item in queue.dirty:
            queue.dirty.discard(item)
            self.add(tenant, item)

    def forget(self, tenant: str) -> None:
        """Drop everything queued for `tenant` (it is paused, deleted or moved away)."""
        self._tenants.pop(tenant, None)
        if tenant in self._turns:
            self._turns.remove(tenant)

    def depth(self, tenant: str) -> int:
        queue = self._tenants.get(tenant)
        return len(queue.waiting) if queue else 0

    def oldest(self, tenant: str) -> float:
        """Seconds the oldest waiting item of `tenant` has waited (0 when none)."""
        queue = self._tenants.get(tenant)
        if not queue or not queue.waiting:
            return 0.0
        return time.monotonic() - next(iter(queue.waiting.values()))
