"""The fair queue: round-robin across tenants, one worker per item, a cap per tenant, and
room kept for what tenants change."""

from __future__ import annotations

import asyncio

import pytest

from atoll.syncer.queue import FairQueue

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def take(queue: FairQueue, count: int) -> list[tuple[str, tuple[str, str]]]:
    taken = []
    for _ in range(count):
        got = await asyncio.wait_for(queue.get(), timeout=1.0)
        taken.append((got.tenant, got.item))
    return taken


async def test_a_burst_in_one_tenant_delays_another_by_one_turn() -> None:
    queue = FairQueue()
    for index in range(100):
        queue.add("greedy", ("Pod", f"default/p{index}"))
    queue.add("quiet", ("Pod", "default/q"))

    taken = await take(queue, 3)

    assert taken[1] == ("quiet", ("Pod", "default/q"))
    assert [tenant for tenant, _item in taken] == ["greedy", "quiet", "greedy"]


async def test_an_item_waits_once_and_comes_back_when_changed_while_held() -> None:
    queue = FairQueue()
    queue.add("a", ("Pod", "ns/x"))
    queue.add("a", ("Pod", "ns/x"))
    assert queue.depth("a") == 1

    [(tenant, item)] = await take(queue, 1)
    queue.add("a", item)  # changed while a worker holds it
    assert queue.depth("a") == 0
    queue.done(tenant, item)

    assert queue.depth("a") == 1
    assert await take(queue, 1) == [("a", ("Pod", "ns/x"))]


async def test_a_tenant_holds_at_most_its_share_of_workers() -> None:
    queue = FairQueue(per_tenant=2, super_side_share=1.0)
    for index in range(5):
        queue.add("greedy", ("Pod", f"ns/p{index}"))

    held = await take(queue, 2)
    assert queue.in_flight("greedy") == 2
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout=0.05)

    queue.add("quiet", ("Pod", "ns/q"))
    assert await take(queue, 1) == [("quiet", ("Pod", "ns/q"))]

    queue.done(*held[0])
    assert await take(queue, 1) == [("greedy", ("Pod", "ns/p2"))]
    assert queue.depth("greedy") == 2


async def test_a_forgotten_tenant_leaves_nothing_behind() -> None:
    queue = FairQueue(per_tenant=1)
    queue.add("a", ("Pod", "ns/x"))
    queue.add("a", ("Pod", "ns/y"))
    [(tenant, item)] = await take(queue, 1)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout=0.05)

    queue.forget("a")
    queue.done(tenant, item)
    queue.add("b", ("Pod", "ns/z"))

    assert await take(queue, 1) == [("b", ("Pod", "ns/z"))]
    assert queue.depth("a") == 0


async def test_tenant_side_changes_go_ahead_of_super_side_news_but_do_not_starve_it() -> None:
    queue = FairQueue()
    for index in range(4):
        queue.add("a", ("Pod", f"ns/status{index}"))
    for index in range(6):
        queue.add("a", ("Pod", f"ns/new{index}"), tenant_side=True)
    queue.add("a", ("Pod", "ns/status3"), tenant_side=True)  # the tenant changed it too
    assert queue.depth("a") == 10

    served = [item[1] for _tenant, item in await take(queue, 10)]

    assert served == [
        "ns/new0",
        "ns/new1",
        "ns/new2",
        "ns/status0",
        "ns/new3",
        "ns/new4",
        "ns/new5",
        "ns/status1",
        "ns/status3",
        "ns/status2",
    ]


async def test_status_going_up_leaves_workers_for_what_the_tenant_creates() -> None:
    queue = FairQueue(per_tenant=4, super_side_share=0.5)
    for index in range(6):
        queue.add("a", ("Pod", f"ns/status{index}"))

    held = await take(queue, 2)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout=0.05)  # the super side has its share

    queue.add("a", ("Pod", "ns/new"), tenant_side=True)
    assert await take(queue, 1) == [("a", ("Pod", "ns/new"))]

    queue.done(*held[0])
    assert await take(queue, 1) == [("a", ("Pod", "ns/status2"))]


async def test_tenant_side_workers_leave_status_to_the_others() -> None:
    queue = FairQueue()
    queue.add("a", ("Pod", "ns/status"))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(tenant_side=True), timeout=0.05)

    waiting = asyncio.create_task(queue.get(tenant_side=True))
    await asyncio.sleep(0)
    queue.add("b", ("Pod", "ns/new"), tenant_side=True)
    got = await asyncio.wait_for(waiting, timeout=1.0)

    assert (got.tenant, got.item, got.tenant_side) == ("b", ("Pod", "ns/new"), True)
    general = await asyncio.wait_for(queue.get(), timeout=1.0)
    assert (general.tenant, general.item, general.tenant_side) == ("a", ("Pod", "ns/status"), False)


async def test_events_wait_until_the_tenant_has_nothing_else_waiting() -> None:
    queue = FairQueue()
    queue.add("a", ("Event", "ns/e1"))
    queue.add("a", ("Pod", "ns/status"))
    queue.add("a", ("Pod", "ns/new"), tenant_side=True)
    queue.add("a", ("Event", "ns/e2"), tenant_side=True)  # a retry stays behind too

    taken = await take(queue, 4)

    assert [item for _tenant, item in taken] == [
        ("Pod", "ns/new"),
        ("Pod", "ns/status"),
        ("Event", "ns/e1"),
        ("Event", "ns/e2"),
    ]


async def test_another_tenants_events_are_not_held_back_by_a_busy_tenant() -> None:
    queue = FairQueue()
    for index in range(10):
        queue.add("busy", ("Pod", f"ns/p{index}"))
    queue.add("quiet", ("Event", "ns/e"))

    taken = await take(queue, 2)

    assert ("quiet", ("Event", "ns/e")) in taken


async def test_events_count_as_super_side_work_against_the_cap() -> None:
    queue = FairQueue(per_tenant=4, super_side_share=0.5)
    for index in range(5):
        queue.add("a", ("Event", f"ns/e{index}"))

    taken = await take(queue, 2)
    assert queue.in_flight("a") == 2
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(queue.get(), timeout=0.1)
    queue.done("a", taken[0][1])

    assert (await asyncio.wait_for(queue.get(), timeout=1.0)).item[0] == "Event"


async def test_overdue_events_get_one_turn_in_ten_under_constant_load() -> None:
    queue = FairQueue(per_tenant=100, background_patience=0.0)
    queue.add("a", ("Event", "ns/e"))
    for index in range(30):
        queue.add("a", ("Pod", f"ns/p{index}"))

    taken = [item for _tenant, item in await take(queue, 10)]

    assert taken.count(("Event", "ns/e")) == 1
    assert len(taken) == 10
