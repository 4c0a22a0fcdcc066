"""What a super pod counts against its tenant's quotas, summarised once per cache update."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from atoll.syncer import mapping
from atoll.syncer.pods import quota

POOL_LABEL = "apps.openyurt.io/nodepool"


def super_pod(
    *,
    pool: str | None = "edge-a",
    phase: str = "Running",
    deleting: bool = False,
    cpu: str = "250m",
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": "web-1",
        "namespace": "t-default-1a2b3c",
        "annotations": {mapping.TENANT_NAMESPACE: "default", mapping.TENANT_NAME: "web-1"},
    }
    if deleting:
        metadata["deletionTimestamp"] = "2026-12-04T00:00:00Z"
    spec: dict[str, Any] = {
        "containers": [{"name": "main", "resources": {"requests": {"cpu": cpu}}}],
    }
    if pool is not None:
        spec["nodeSelector"] = {POOL_LABEL: pool}
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("pod", "pool", "counted"),
    [
        (super_pod(), "edge-a", True),
        (super_pod(pool=None), "", True),
        (super_pod(phase="Pending"), "edge-a", True),
        (super_pod(phase="Succeeded"), "edge-a", False),
        (super_pod(phase="Failed"), "edge-a", False),
        (super_pod(deleting=True), "edge-a", False),
    ],
    ids=["running", "unpinned", "pending", "succeeded", "failed", "deleting"],
)
def test_a_super_pod_counts_until_it_finishes_or_goes(
    pod: dict[str, Any], pool: str, *, counted: bool
) -> None:
    use = quota.use_of(pod, POOL_LABEL)

    assert use.tenant_key == "default/web-1"
    assert use.pool == pool
    assert (use.counted is not None) is counted
    if counted:
        assert use.counted == quota.cost(pod)


def test_usage_sums_only_what_still_counts() -> None:
    uses = [
        quota.use_of(super_pod(cpu="250m"), POOL_LABEL),
        quota.use_of(super_pod(cpu="500m"), POOL_LABEL),
        quota.use_of(super_pod(cpu="2", phase="Succeeded"), POOL_LABEL),
    ]

    total = quota.used(uses)

    assert total["pods"] == Decimal(2)
    assert total["requests.cpu"] == Decimal("0.75")
    assert quota.used([]) == {}
