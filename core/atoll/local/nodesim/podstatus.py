"""What a simulated kubelet does to a pod, and the status it posts: pure functions.

`plan` decides the one step a pod bound to a simulated node needs: finish its deletion,
start it (phase Running, addresses, conditions, container states), set its conditions
right again, or nothing. A started pod needs only the last step, and only when someone else
changed its conditions: a readiness gate turned True, or the node lifecycle controller
marked it not Ready while its node was cut off. The echo of the simulator's own writes
needs nothing, so it never loops on them. `pods.PodRunner` does the API calls.
"""

from __future__ import annotations

import datetime
from typing import Literal

from atoll.core.kube import client as kube_client
from atoll.local.nodesim import addresses, clock

KubeObject = kube_client.KubeObject
Step = Literal["delete", "start", "conditions", "none"]

TERMINAL_PHASES = frozenset({"Succeeded", "Failed"})
KUBELET_CONDITIONS = (
    "PodReadyToStartContainers",
    "Initialized",
    "ContainersReady",
    "Ready",
    "PodScheduled",
)
CONTAINER_ID_SCHEME = "atoll-sim://"


def plan(pod: KubeObject) -> Step:
    """The step this pod needs from its node's kubelet."""
    if pod["metadata"].get("deletionTimestamp"):
        return "delete"

    status = pod.get("status") or {}
    phase = status.get("phase")
    if phase in TERMINAL_PHASES:
        return "none"
    if phase != "Running" or not status.get("podIP"):
        return "start"
    if not _conditions_settled(pod):
        return "conditions"
    return "none"


def gates_passed(pod: KubeObject) -> bool:
    """Whether every readiness gate's condition is True (trivially so without gates)."""
    gates = [gate["conditionType"] for gate in pod["spec"].get("readinessGates") or []]
    known = {item.get("type"): item.get("status") for item in _conditions(pod)}
    return all(known.get(gate) == "True" for gate in gates)


def pod_address(pod: KubeObject, host_ip: str, pool: addresses.PodAddresses) -> str:
    """The pod's IP: the node's own for host-network pods, else one from the node's block."""
    if pod["spec"].get("hostNetwork"):
        return host_ip
    return pool.assign(pod["metadata"]["uid"])


def running_status(
    pod: KubeObject, *, host_ip: str, pod_ip: str, moment: datetime.datetime
) -> KubeObject:
    """The status of the pod once started: Running, addressed, every container up."""
    status = pod.get("status") or {}
    spec = pod["spec"]
    uid = pod["metadata"]["uid"]
    started = status.get("startTime") or clock.rfc3339(moment)

    result: KubeObject = {
        "phase": "Running",
        "hostIP": host_ip,
        "hostIPs": [{"ip": host_ip}],
        "podIP": pod_ip,
        "podIPs": [{"ip": pod_ip}],
        "startTime": started,
        "conditions": pod_conditions(pod, moment),
        "containerStatuses": [
            _running_container(uid, container, moment) for container in spec["containers"]
        ],
    }
    if init_containers := spec.get("initContainers"):
        result["initContainerStatuses"] = [
            _init_container(uid, container, moment) for container in init_containers
        ]
    if (generation := pod["metadata"].get("generation")) is not None:
        result["observedGeneration"] = generation
    return result


def pod_conditions(pod: KubeObject, moment: datetime.datetime) -> list[KubeObject]:
    """The kubelet's conditions, all True but Ready, which waits for the readiness gates.

    Conditions the kubelet does not own (readiness gates, DisruptionTarget, …) are kept as
    they are: a merge patch replaces the whole list.
    """
    existing = {item.get("type"): item for item in _conditions(pod)}
    result = []
    for kind, status in _wanted_conditions(pod).items():
        condition = _pod_condition(kind, status, existing.get(kind), moment)
        if kind == "Ready" and status == "False":
            condition["reason"] = "ReadinessGatesNotReady"
            condition["message"] = "the pod's readiness gates are not all True"
        result.append(condition)

    result.extend(item for kind, item in existing.items() if kind not in KUBELET_CONDITIONS)
    return result


def _wanted_conditions(pod: KubeObject) -> dict[str, str]:
    ready = "True" if gates_passed(pod) else "False"
    return {kind: ready if kind == "Ready" else "True" for kind in KUBELET_CONDITIONS}


def _pod_condition(
    kind: str, status: str, previous: KubeObject | None, moment: datetime.datetime
) -> KubeObject:
    transition = clock.rfc3339(moment)
    if previous is not None and previous.get("status") == status:
        transition = previous.get("lastTransitionTime") or transition
    return {"type": kind, "status": status, "lastProbeTime": None, "lastTransitionTime": transition}


def _running_container(uid: str, container: KubeObject, moment: datetime.datetime) -> KubeObject:
    return _container(uid, container) | {
        "ready": True,
        "started": True,
        "state": {"running": {"startedAt": clock.rfc3339(moment)}},
    }


def _init_container(uid: str, container: KubeObject, moment: datetime.datetime) -> KubeObject:
    # A sidecar (an init container that restarts always) keeps running beside the others.
    if container.get("restartPolicy") == "Always":
        return _running_container(uid, container, moment)
    timestamp = clock.rfc3339(moment)
    return _container(uid, container) | {
        "ready": True,
        "started": False,
        "state": {
            "terminated": {
                "exitCode": 0,
                "reason": "Completed",
                "startedAt": timestamp,
                "finishedAt": timestamp,
                "containerID": f"{CONTAINER_ID_SCHEME}{uid}/{container['name']}",
            }
        },
    }


def _container(uid: str, container: KubeObject) -> KubeObject:
    image = str(container.get("image", ""))
    return {
        "name": container["name"],
        "image": image,
        "imageID": f"sim://{image}",
        "containerID": f"{CONTAINER_ID_SCHEME}{uid}/{container['name']}",
        "restartCount": 0,
        "lastState": {},
    }


def _conditions(pod: KubeObject) -> list[KubeObject]:
    return list((pod.get("status") or {}).get("conditions") or [])


def _conditions_settled(pod: KubeObject) -> bool:
    current = {item.get("type"): item.get("status") for item in _conditions(pod)}
    return all(current.get(kind) == status for kind, status in _wanted_conditions(pod).items())
