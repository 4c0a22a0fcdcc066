"""Unit tests for `atoll.syncer.pods.status`: status and binding up, readiness gates down."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from atoll.syncer import mapping
from atoll.syncer.pods import status

POD_UID = "0b7d2e14-93a1-4f6c-8e25-7c4a9d1b3f08"
GATE = "example.com/load-balancer"
T0 = "2025-01-01T00:00:00Z"
T1 = "2025-01-01T00:00:05Z"


def condition(type_: str, value: str = "True", at: str = T0, **fields: Any) -> dict[str, Any]:
    return {"type": type_, "status": value, "lastTransitionTime": at, **fields}


def tenant_pod(
    *,
    node: str | None = None,
    gates: tuple[str, ...] = (),
    state: dict[str, Any] | None = None,
    uid: str = POD_UID,
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    if node is not None:
        spec["nodeName"] = node
    if gates:
        spec["readinessGates"] = [{"conditionType": gate} for gate in gates]
    pod = {"metadata": {"name": "app", "namespace": "web", "uid": uid}, "spec": spec}
    if state is not None:
        pod["status"] = state
    return pod


def super_pod(
    *, node: str | None = "edge-1", state: dict[str, Any] | None = None, owner: str = POD_UID
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "app", "image": "nginx"}]}
    if node is not None:
        spec["nodeName"] = node
    return {
        "metadata": {
            "name": "app",
            "namespace": "team-a-dev-abc123-web",
            "annotations": {mapping.TENANT_UID: owner},
        },
        "spec": spec,
        "status": running() if state is None else state,
    }


def running(*extra_conditions: dict[str, Any]) -> dict[str, Any]:
    return {
        "phase": "Running",
        "conditions": [
            condition("PodScheduled"),
            condition("Initialized"),
            condition("ContainersReady", at=T1),
            condition("Ready", at=T1),
            *extra_conditions,
        ],
        "hostIP": "192.168.1.7",
        "hostIPs": [{"ip": "192.168.1.7"}],
        "podIP": "10.244.3.9",
        "podIPs": [{"ip": "10.244.3.9"}],
        "startTime": T0,
        "containerStatuses": [{"name": "app", "ready": True, "restartCount": 0}],
        "qosClass": "BestEffort",
    }


def written(pod: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`pod` after the engine merge-patched its status with `patch`."""
    result = copy.deepcopy(pod)
    merged = {**(result.get("status") or {}), **patch}
    result["status"] = {key: value for key, value in merged.items() if value is not None}
    return result


# --- tenant_status ------------------------------------------------------------------------


def test_the_tenant_pod_shows_the_super_pods_status() -> None:
    patch = status.tenant_status(super_pod(), tenant_pod(state={"phase": "Pending"}))

    assert patch == running()


def test_a_tenant_pod_already_in_step_is_not_written() -> None:
    pod = tenant_pod(state={"phase": "Pending"})
    patch = status.tenant_status(super_pod(), pod)
    assert patch is not None

    assert status.tenant_status(super_pod(), written(pod, patch)) is None


def test_fields_the_super_pod_lost_are_cleared() -> None:
    shown = running() | {"nominatedNodeName": "edge-2", "message": "preempting"}

    patch = status.tenant_status(super_pod(), tenant_pod(state=shown))

    assert patch == running() | {"nominatedNodeName": None, "message": None}


@pytest.mark.parametrize(
    ("tenant_conditions", "expected_tail"),
    [
        pytest.param(
            [condition(GATE, "True", at=T1)], [condition(GATE, "True", at=T1)], id="gate-set"
        ),
        pytest.param([], [], id="gate-not-set-yet"),
        pytest.param(
            [condition(status.SYNCED, "False", reason=status.PLACEMENT_REFUSED)],
            [],
            id="old-refusal-dropped",
        ),
    ],
)
def test_readiness_gate_conditions_come_from_the_tenant_pod(
    tenant_conditions: list[dict[str, Any]], expected_tail: list[dict[str, Any]]
) -> None:
    # The super pod's copy of the gate is stale; the tenant's controller owns the condition.
    source = super_pod(state=running(condition(GATE, "False")))
    pod = tenant_pod(gates=(GATE,), state={"phase": "Pending", "conditions": tenant_conditions})

    patch = status.tenant_status(source, pod)

    assert patch is not None
    assert patch["conditions"] == running()["conditions"] + expected_tail


def test_the_tenants_own_qos_class_is_kept() -> None:
    pod = tenant_pod(state=running() | {"qosClass": "Burstable"})

    assert status.tenant_status(super_pod(), pod) is None


# --- super_gate_conditions ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("gates", "tenant_conditions", "super_conditions", "expected"),
    [
        pytest.param((), [], running()["conditions"], None, id="no-gates"),
        pytest.param(
            (GATE,),
            [condition(GATE)],
            running()["conditions"],
            [*running()["conditions"], condition(GATE)],
            id="gate-copied-down",
        ),
        pytest.param(
            (GATE,),
            [condition(GATE)],
            [condition(GATE), *running()["conditions"]],
            None,
            id="already-in-step",
        ),
        pytest.param(
            (GATE,),
            [condition(GATE, "False", at=T1)],
            [condition(GATE)],
            [condition(GATE, "False", at=T1)],
            id="gate-changed",
        ),
    ],
)
def test_super_gate_conditions_carry_the_tenants_gates_down(
    gates: tuple[str, ...],
    tenant_conditions: list[dict[str, Any]],
    super_conditions: list[dict[str, Any]],
    expected: list[dict[str, Any]] | None,
) -> None:
    pod = tenant_pod(gates=gates, state={"conditions": tenant_conditions})
    source = super_pod(state={"conditions": super_conditions})

    assert status.super_gate_conditions(pod, source) == expected


# --- binding ------------------------------------------------------------------------------


def test_a_scheduled_super_pod_binds_the_tenant_pod_to_its_node() -> None:
    assert status.binding(super_pod(node="edge-1"), tenant_pod()) == {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "app", "namespace": "web", "uid": POD_UID},
        "target": {"apiVersion": "v1", "kind": "Node", "name": "edge-1"},
    }


@pytest.mark.parametrize(
    ("source", "pod"),
    [
        pytest.param(super_pod(node=None), tenant_pod(), id="super-not-scheduled"),
        pytest.param(super_pod(node="edge-1"), tenant_pod(node="edge-1"), id="already-bound"),
        pytest.param(super_pod(owner="earlier-pod"), tenant_pod(), id="another-pods-super-pod"),
    ],
)
def test_no_binding_when_none_is_needed(source: dict[str, Any], pod: dict[str, Any]) -> None:
    assert status.binding(source, pod) is None


def test_a_pod_being_deleted_is_not_bound() -> None:
    pod = tenant_pod()
    pod["metadata"]["deletionTimestamp"] = T1

    assert status.binding(super_pod(), pod) is None


# --- refused_condition --------------------------------------------------------------------


def test_refused_condition_tells_the_tenant_why_now() -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)

    result = status.refused_condition("pool shanghai is not granted to this cluster")

    after = datetime.datetime.now(datetime.UTC)
    assert result == {
        "type": "atoll.dev/Synced",
        "status": "False",
        "reason": "PlacementRefused",
        "message": "pool shanghai is not granted to this cluster",
        "lastTransitionTime": result["lastTransitionTime"],
    }
    assert result["lastTransitionTime"].endswith("Z")
    assert before <= datetime.datetime.fromisoformat(result["lastTransitionTime"]) <= after
