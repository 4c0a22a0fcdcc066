"""Status conditions in the Kubernetes convention, computed without side effects.

A condition's `lastTransitionTime` changes only when its `status` does, so repeating a
reconcile leaves the conditions (and therefore the object) untouched.
"""

from __future__ import annotations

import datetime
from typing import Any, Literal

Status = Literal["True", "False", "Unknown"]
Condition = dict[str, Any]

READY = "Ready"
CONTROL_PLANE_READY = "ControlPlaneReady"
VERSION_ACCEPTED = "VersionAccepted"
NODE_POOLS_VALID = "NodePoolsValid"
KUBECONFIG_READY = "KubeconfigReady"
SERVICE_RANGE_READY = "ServiceRangeReady"


def now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: list[Condition],
    type_: str,
    status: Status,
    *,
    reason: str,
    message: str,
    generation: int,
) -> list[Condition]:
    """A new list with condition `type_` set; other conditions are kept as they are."""
    previous = next((item for item in conditions if item.get("type") == type_), None)
    transition = (
        previous["lastTransitionTime"]
        if previous and previous.get("status") == status and previous.get("lastTransitionTime")
        else now()
    )
    updated = {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message[:32768],
        "lastTransitionTime": transition,
        "observedGeneration": generation,
    }
    return [item for item in conditions if item.get("type") != type_] + [updated]


def get(conditions: list[Condition], type_: str) -> Condition | None:
    return next((item for item in conditions if item.get("type") == type_), None)
