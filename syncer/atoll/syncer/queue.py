"""The syncer's work queue: one queue per tenant, served round-robin.

Work items are `(kind, key)` pairs. Within a tenant an item waits at most once, is handed to
one worker at a time, and comes back if it changed while held (so the newest state is always
synced and no object is written twice at once). Across tenants, workers take one item from
each tenant with work in turn, so a burst of a thousand pods in one tenant delays another
tenant's pod by one turn, not by a thousand. A tenant also holds at most `per_tenant` workers
at once: the rest stay free for the others, and one tenant's slow API server cannot tie up
the whole pool.

Within a tenant, what the tenant itself changed (`tenant_side=True`: a pod to create, an
object to copy) goes ahead of news from the super-cluster (status to bring up): three
tenant-side items are served for every super-side one, while both kinds wait. Creation is
what the tenant waits on, and a status that waits a little longer is often written once
instead of twice.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time

Item = tuple[str, str]  # (kind, key)


TENANT_SIDE_TURNS = 3  # tenant-side items served for each super-side one, when both wait


@dataclasses.dataclass
class _TenantQueue:
    # item → when it was first queued, in two lanes
    tenant_side: collections.OrderedDict[Item, float] = dataclasses.field(
        default_factory=collections.OrderedDict
    )
    super_side: collections.OrderedDict[Item, float] = dataclasses.field(
        default_factory=collections.OrderedDict
    )
    active: set[Item] = dataclasses.field(default_factory=set)
    dirty: dict[Item, bool] = dataclasses.field(default_factory=dict)  # → tenant-side
    served: int = 0  # items served, to interleave the lanes

    def __contains__(self, item: Item) -> bool:
        return item in self.tenant_side or item in self.super_side

    def __len__(self) -> int:
        return len(self.tenant_side) + len(self.super_side)

    def pop(self) -> tuple[Item, float]:
        self.served += 1
        if self.super_side and (not self.tenant_side or self.served % (TENANT_SIDE_TURNS + 1) == 0):
            return self.super_side.popitem(last=False)
        return self.tenant_side.popitem(last=False)

    def oldest(self) -> float | None:
        return min(
            (next(iter(lane.values())) for lane in (self.tenant_side, self.super_side) if lane),
            default=None,
        )


class FairQueue:
    """`add` from watch events, `get`/`done` in workers, `forget` when a tenant leaves."""

    def __init__(self, per_tenant: int = 32) -> None:
        self.per_tenant = per_tenant
        self._tenants: dict[str, _TenantQueue] = {}
        self._turns: collections.deque[str] = collections.deque()  # tenants with work waiting
        self._parked: set[str] = set()  # tenants with work waiting, but all their workers busy
        self._work = asyncio.Event()

    def add(self, tenant: str, item: Item, *, tenant_side: bool = False) -> None:
        queue = self._tenants.setdefault(tenant, _TenantQueue())
        if item in queue.active:
            queue.dirty[item] = queue.dirty.get(item, False) or tenant_side
            return
        if item in queue.tenant_side:
            return
        if item in queue.super_side:
            if not tenant_side:
                return
            # Promoted: it keeps the time it was first queued.
            queue.tenant_side[item] = queue.super_side.pop(item)
            return
        lane = queue.tenant_side if tenant_side else queue.super_side
        lane[item] = time.monotonic()
        if tenant not in self._turns and tenant not in self._parked:
            self._turns.append(tenant)
        self._work.set()

    def add_later(self, tenant: str, item: Item, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self._add_tenant_side, tenant, item)

    def _add_tenant_side(self, tenant: str, item: Item) -> None:
        # A retry, or a wait for caches: it was due already, so it goes in the first lane.
        self.add(tenant, item, tenant_side=True)

    async def get(self) -> tuple[str, Item, float]:
        """The next `(tenant, item, seconds it waited)`; the caller must call `done`."""
        while True:
            while not self._turns:
                self._work.clear()
                await self._work.wait()
            tenant = self._turns.popleft()
            queue = self._tenants[tenant]
            if len(queue.active) >= self.per_tenant:
                self._parked.add(tenant)  # its turn comes back when one of its items is done
                continue
            item, queued_at = queue.pop()
            queue.active.add(item)
            if queue:
                self._turns.append(tenant)
            return tenant, item, time.monotonic() - queued_at

    def done(self, tenant: str, item: Item) -> None:
        queue = self._tenants.get(tenant)
        if queue is None:
            return
        queue.active.discard(item)
        if item in queue.dirty:
            self.add(tenant, item, tenant_side=queue.dirty.pop(item))
        if tenant in self._parked and len(queue.active) < self.per_tenant:
            self._parked.discard(tenant)
            if queue:
                self._turns.append(tenant)
                self._work.set()

    def forget(self, tenant: str) -> None:
        """Drop everything queued for `tenant` (it is paused, deleted or moved away)."""
        self._tenants.pop(tenant, None)
        self._parked.discard(tenant)
        if tenant in self._turns:
            self._turns.remove(tenant)

    def depth(self, tenant: str) -> int:
        queue = self._tenants.get(tenant)
        return len(queue) if queue else 0

    def in_flight(self, tenant: str) -> int:
        queue = self._tenants.get(tenant)
        return len(queue.active) if queue else 0

    def oldest(self, tenant: str) -> float:
        """Seconds the oldest waiting item of `tenant` has waited (0 when none)."""
        queue = self._tenants.get(tenant)
        since = queue.oldest() if queue else None
        return 0.0 if since is None else time.monotonic() - since
