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

Order alone does not keep creation quick when every worker is held by a slow status write
to a busy tenant API server, so super-side items hold at most `super_side_share` of a
tenant's workers, and some workers ask `get(tenant_side=True)`: they serve only first lanes,
so a tenant's new pod never waits for a status write to finish.

Mirrored Events (`background_kinds`) wait in a third lane, served when the tenant has
nothing else waiting: they are advice, not state, and during a burst each one written to a
busy tenant API server would hold back a pod's status. Kubernetes' own event recorders
likewise give way under load. So that they still flow under constant load, one item in
`BACKGROUND_TURNS` goes to them once their oldest has waited `background_patience` seconds.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import functools
import time

Item = tuple[str, str]  # (kind, key)


TENANT_SIDE_TURNS = 3  # tenant-side items served for each super-side one, when both wait
BACKGROUND_TURNS = 10  # under load, one item in this many goes to overdue background work


@dataclasses.dataclass(frozen=True)
class Taken:
    """An item handed to a worker, which must call `FairQueue.done(tenant, item)`."""

    tenant: str
    item: Item
    waited: float  # seconds since it was first queued
    tenant_side: bool  # which lane it came from


@dataclasses.dataclass
class _TenantQueue:
    # item → when it was first queued, in two lanes
    tenant_side: collections.OrderedDict[Item, float] = dataclasses.field(
        default_factory=collections.OrderedDict
    )
    super_side: collections.OrderedDict[Item, float] = dataclasses.field(
        default_factory=collections.OrderedDict
    )
    background: collections.OrderedDict[Item, float] = dataclasses.field(
        default_factory=collections.OrderedDict
    )
    active: dict[Item, bool] = dataclasses.field(default_factory=dict)  # → from tenant side
    active_super_side: int = 0
    dirty: dict[Item, bool] = dataclasses.field(default_factory=dict)  # → tenant-side
    served: int = 0  # items served, to interleave the lanes

    def __contains__(self, item: Item) -> bool:
        return any(item in lane for lane in (self.tenant_side, self.super_side, self.background))

    def __len__(self) -> int:
        return len(self.tenant_side) + len(self.super_side) + len(self.background)

    def pop(self, *, super_side_allowed: bool, overdue_since: float) -> tuple[Item, float, bool]:
        """The next item, when it was queued, and whether it came from the tenant side;
        background items queued before `overdue_since` are overdue."""
        self.served += 1
        if super_side_allowed and self.background:
            idle = not self.tenant_side and not self.super_side
            overdue = next(iter(self.background.values())) <= overdue_since
            if idle or (overdue and self.served % BACKGROUND_TURNS == 0):
                return self._pop_super_side(self.background)
        if super_side_allowed:
            super_turn = self.served % (TENANT_SIDE_TURNS + 1) == 0
            if self.super_side and (super_turn or not self.tenant_side):
                return self._pop_super_side(self.super_side)
        item, queued_at = self.tenant_side.popitem(last=False)
        self.active[item] = True
        return item, queued_at, True

    def _pop_super_side(
        self, lane: collections.OrderedDict[Item, float]
    ) -> tuple[Item, float, bool]:
        item, queued_at = lane.popitem(last=False)
        self.active_super_side += 1
        self.active[item] = False
        return item, queued_at, False

    def release(self, item: Item) -> None:
        if self.active.pop(item, True) is False:
            self.active_super_side -= 1

    def oldest(self) -> float | None:
        lanes = (self.tenant_side, self.super_side, self.background)
        return min((next(iter(lane.values())) for lane in lanes if lane), default=None)


class FairQueue:
    """`add` from watch events, `get`/`done` in workers, `forget` when a tenant leaves."""

    def __init__(
        self,
        per_tenant: int = 32,
        super_side_share: float = 0.75,
        background_kinds: frozenset[str] = frozenset({"Event"}),
        background_patience: float = 5.0,
    ) -> None:
        self.per_tenant = per_tenant
        self.background_kinds = background_kinds
        self.background_patience = background_patience
        self.super_side_limit = max(1, int(per_tenant * super_side_share))
        self._tenants: dict[str, _TenantQueue] = {}
        self._turns: collections.deque[str] = collections.deque()  # tenants with work waiting
        self._parked: set[str] = set()  # tenants with work waiting that may not be served now
        self._work = asyncio.Event()  # set when there may be work for any worker
        self._tenant_work = asyncio.Event()  # set when there may be some for tenant-side ones

    def add(self, tenant: str, item: Item, *, tenant_side: bool = False) -> None:
        queue = self._tenants.setdefault(tenant, _TenantQueue())
        if item in queue.active:
            queue.dirty[item] = queue.dirty.get(item, False) or tenant_side
            return
        if item in queue.tenant_side or item in queue.background:
            return
        if item[0] in self.background_kinds:
            queue.background[item] = time.monotonic()
        elif item in queue.super_side:
            if not tenant_side:
                return
            # Promoted: it keeps the time it was first queued.
            queue.tenant_side[item] = queue.super_side.pop(item)
        else:
            lane = queue.tenant_side if tenant_side else queue.super_side
            lane[item] = time.monotonic()
        if tenant in self._parked and self._servable(queue):
            self._parked.discard(tenant)
        if tenant not in self._turns and tenant not in self._parked:
            self._turns.append(tenant)
        self._wake(tenant_side=tenant_side)

    def add_later(self, tenant: str, item: Item, delay: float, *, tenant_side: bool = True) -> None:
        """Queue `item` in `delay` seconds. A retry, or a wait for caches, was due already,
        so by default it goes in the first lane."""
        loop = asyncio.get_running_loop()
        loop.call_later(delay, functools.partial(self.add, tenant, item, tenant_side=tenant_side))

    async def get(self, *, tenant_side: bool = False) -> Taken:
        """The next item for a worker; with `tenant_side`, only from a first lane."""
        wakeup = self._tenant_work if tenant_side else self._work
        while True:
            tenant = self._next_turn(tenant_side_only=tenant_side)
            if tenant is None:
                wakeup.clear()
                await wakeup.wait()
                continue
            queue = self._tenants[tenant]
            item, queued_at, from_tenant_side = queue.pop(
                super_side_allowed=not tenant_side
                and queue.active_super_side < self.super_side_limit,
                overdue_since=time.monotonic() - self.background_patience,
            )
            if queue:
                self._turns.append(tenant)
            return Taken(tenant, item, time.monotonic() - queued_at, from_tenant_side)

    def _next_turn(self, *, tenant_side_only: bool) -> str | None:
        """The next tenant in turn with an item this worker may take, out of the turns."""
        for _ in range(len(self._turns)):
            tenant = self._turns.popleft()
            queue = self._tenants[tenant]
            if not self._servable(queue):
                self._parked.add(tenant)  # back in turn when one of its items is done
            elif tenant_side_only and not queue.tenant_side:
                self._turns.append(tenant)  # for a general worker
            else:
                return tenant
        return None

    def _servable(self, queue: _TenantQueue) -> bool:
        if len(queue.active) >= self.per_tenant:
            return False
        return bool(queue.tenant_side) or (
            bool(queue.super_side or queue.background)
            and queue.active_super_side < self.super_side_limit
        )

    def _wake(self, *, tenant_side: bool) -> None:
        self._work.set()
        if tenant_side:
            self._tenant_work.set()

    def done(self, tenant: str, item: Item) -> None:
        queue = self._tenants.get(tenant)
        if queue is None:
            return
        queue.release(item)
        if item in queue.dirty:
            self.add(tenant, item, tenant_side=queue.dirty.pop(item))
        if tenant in self._parked and self._servable(queue):
            self._parked.discard(tenant)
            self._turns.append(tenant)
            self._wake(tenant_side=bool(queue.tenant_side))

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
