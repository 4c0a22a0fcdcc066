"""Unit tests for `atoll.operator.conditions`: setting conditions without needless changes."""

from __future__ import annotations

import copy
import datetime

import pytest

from atoll.core import conditions

OLD_TIME = "2020-01-01T00:00:00Z"
MESSAGE_LIMIT = 32768


def condition(
    type_: str,
    status: conditions.Status = "True",
    *,
    transition: str | None = OLD_TIME,
    reason: str = "Earlier",
    message: str = "set earlier",
    generation: int = 1,
) -> conditions.Condition:
    """A condition as it was written by an earlier reconcile."""
    item: conditions.Condition = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
    }
    if transition is not None:
        item["lastTransitionTime"] = transition
    return item


def set_ready(
    existing: list[conditions.Condition],
    status: conditions.Status,
    *,
    message: str = "the control plane is serving",
    generation: int = 2,
) -> list[conditions.Condition]:
    return conditions.set_condition(
        existing,
        conditions.READY,
        status,
        reason="Running",
        message=message,
        generation=generation,
    )


def parse_time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text)


def utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def test_setting_a_new_condition_adds_it_with_every_field() -> None:
    before = utc_now().replace(microsecond=0)

    result = set_ready([], "True", generation=7)

    after = utc_now()
    assert len(result) == 1
    (ready,) = result
    assert set(ready) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }
    assert ready["type"] == conditions.READY
    assert ready["status"] == "True"
    assert ready["reason"] == "Running"
    assert ready["message"] == "the control plane is serving"
    assert ready["observedGeneration"] == 7
    assert ready["lastTransitionTime"].endswith("Z")
    assert before <= parse_time(ready["lastTransitionTime"]) <= after


def test_a_new_condition_comes_after_the_existing_ones() -> None:
    existing = [condition(conditions.NODE_POOLS_VALID), condition(conditions.VERSION_ACCEPTED)]

    result = set_ready(copy.deepcopy(existing), "True")

    assert result[:2] == existing
    assert result[2]["type"] == conditions.READY


@pytest.mark.parametrize("status", ["True", "False", "Unknown"])
def test_setting_the_same_status_again_keeps_the_transition_time(
    status: conditions.Status,
) -> None:
    existing = [condition(conditions.READY, status)]

    (ready,) = set_ready(existing, status, message="still the same", generation=5)

    assert ready["lastTransitionTime"] == OLD_TIME
    assert ready["message"] == "still the same"
    assert ready["reason"] == "Running"
    assert ready["observedGeneration"] == 5


def test_setting_an_unchanged_condition_again_gives_an_equal_list() -> None:
    first = set_ready([condition(conditions.NODE_POOLS_VALID)], "True")

    second = set_ready(copy.deepcopy(first), "True")

    assert second == first


@pytest.mark.parametrize(
    ("old", "new"),
    [("True", "False"), ("False", "True"), ("Unknown", "True"), ("True", "Unknown")],
)
def test_changing_the_status_updates_the_transition_time(
    old: conditions.Status, new: conditions.Status
) -> None:
    before = utc_now().replace(microsecond=0)

    (ready,) = set_ready([condition(conditions.READY, old)], new)

    assert ready["status"] == new
    assert ready["lastTransitionTime"] != OLD_TIME
    assert parse_time(ready["lastTransitionTime"]) >= before


def test_a_condition_without_a_transition_time_gets_one() -> None:
    before = utc_now().replace(microsecond=0)

    (ready,) = set_ready([condition(conditions.READY, "True", transition=None)], "True")

    assert parse_time(ready["lastTransitionTime"]) >= before


def test_other_conditions_are_untouched_and_keep_their_order() -> None:
    existing = [
        condition(conditions.NODE_POOLS_VALID, "True", reason="PoolsFound"),
        condition(conditions.READY, "False", reason="Starting"),
        condition(conditions.CONTROL_PLANE_READY, "False", reason="Starting"),
        condition(conditions.KUBECONFIG_READY, "Unknown", reason="Waiting"),
    ]
    given = copy.deepcopy(existing)

    result = set_ready(given, "True")

    others = [item for item in result if item["type"] != conditions.READY]
    assert others == [item for item in existing if item["type"] != conditions.READY]
    assert [item["type"] for item in result].count(conditions.READY) == 1
    assert given == existing, "the list passed in was changed"


@pytest.mark.parametrize(
    ("length", "kept"),
    [
        (0, 0),
        (MESSAGE_LIMIT - 1, MESSAGE_LIMIT - 1),
        (MESSAGE_LIMIT, MESSAGE_LIMIT),
        (MESSAGE_LIMIT + 1, MESSAGE_LIMIT),
        (3 * MESSAGE_LIMIT, MESSAGE_LIMIT),
    ],
    ids=["empty", "under", "exactly", "one-over", "far-over"],
)
def test_message_is_cut_to_32768_characters(length: int, kept: int) -> None:
    message = "".join(str(index % 10) for index in range(length))

    (ready,) = set_ready([], "False", message=message)

    assert ready["message"] == message[:kept]


def test_get_finds_a_condition_by_type() -> None:
    ready = condition(conditions.READY)
    existing = [condition(conditions.NODE_POOLS_VALID), ready]

    assert conditions.get(existing, conditions.READY) is ready
    assert conditions.get(existing, conditions.KUBECONFIG_READY) is None
