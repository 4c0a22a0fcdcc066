"""Unit tests for `pools.quota_problem`: quota values the schema's pattern lets through."""

from __future__ import annotations

from typing import Any

import pytest

from atoll.operator import pools


@pytest.mark.parametrize(
    "spec",
    [
        {},
        {"nodePools": [{"name": "edge-a", "quota": {"pods": 10, "requests.cpu": "500m"}}]},
        {"isolation": {"quota": {"requests.memory": "64Gi", "services": 0}}},
    ],
)
def test_sensible_quotas_pass(spec: dict[str, Any]) -> None:
    assert pools.quota_problem(spec) is None


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ({"nodePools": [{"name": "a", "quota": {"pods": "-1"}}]}, "spec.nodePools[0].quota.pods"),
        (
            {"nodePools": [{"name": "a"}, {"name": "b", "quota": {"limits.cpu": "1e400000000"}}]},
            "spec.nodePools[1].quota.limits.cpu",
        ),
        ({"isolation": {"quota": {"requests.storage": "-5Gi"}}}, "spec.isolation.quota"),
    ],
)
def test_negative_or_huge_quotas_name_the_field(spec: dict[str, Any], where: str) -> None:
    problem = pools.quota_problem(spec)

    assert problem is not None
    assert where in problem
    assert "from 0 to" in problem
