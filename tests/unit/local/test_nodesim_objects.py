"""Unit tests for what the node simulator posts and decides, without an API server.

Covers the Node, its status and Lease (`nodes`), loopback addressing (`addresses`), the pod
steps and statuses (`podstatus`) and the control file (`control`).
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import TYPE_CHECKING, Any

import pytest

from atoll.local.nodesim import addresses, control, layout, nodes, podstatus

if TYPE_CHECKING:
    import pathlib

KubeObject = dict[str, Any]

MOMENT = datetime.datetime(2026, 1, 1, 12, 30, 5, 123456, tzinfo=datetime.UTC)
EARLIER = "2025-12-31T00:00:00Z"
EDGE_NODE = layout.SimNode(name="hangzhou-1", pool="hangzhou", edge=True, index=3)
CLOUD_NODE = layout.SimNode(name="cloud-0", pool="cloud", edge=False, index=0)
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def make_pod(
    *,
    phase: str | None = None,
    pod_ip: str | None = None,
    conditions: list[KubeObject] | None = None,
    gates: list[str] | None = None,
    host_network: bool = False,
    init_containers: list[KubeObject] | None = None,
    deleting: bool = False,
) -> KubeObject:
    spec: KubeObject = {
        "nodeName": EDGE_NODE.name,
        "containers": [{"name": "app", "image": "nginx:1.27"}, {"name": "log", "image": "busybox"}],
    }
    if gates:
        spec["readinessGates"] = [{"conditionType": gate} for gate in gates]
    if host_network:
        spec["hostNetwork"] = True
    if init_containers:
        spec["initContainers"] = init_containers
    metadata: KubeObject = {
        "name": "web-0",
        "namespace": "tenant-a",
        "uid": "uid-1",
        "resourceVersion": "7",
        "generation": 1,
    }
    if deleting:
        metadata["deletionTimestamp"] = EARLIER
    status: KubeObject = {"conditions": conditions or []}
    if phase:
        status["phase"] = phase
    if pod_ip:
        status["podIP"] = pod_ip
    return {"metadata": metadata, "spec": spec, "status": status}


def condition(kind: str, status: str = "True") -> KubeObject:
    return {"type": kind, "status": status, "lastTransitionTime": EARLIER}


def statuses(conditions: list[KubeObject]) -> dict[str, str]:
    return {item["type"]: item["status"] for item in conditions}


def started(pod: KubeObject) -> KubeObject:
    status = podstatus.running_status(
        pod, host_ip="127.1.0.4", pod_ip="127.128.48.1", moment=MOMENT
    )
    return pod | {"status": status}


# Nodes and leases


def test_node_object_carries_pool_edge_and_simulated_labels() -> None:
    node = nodes.node_object(EDGE_NODE, "apps.kubeedge.io/belonging-to")

    assert node["metadata"] == {
        "name": "hangzhou-1",
        "labels": {
            "apps.kubeedge.io/belonging-to": "hangzhou",
            "openyurt.io/is-edge-worker": "true",
            "atoll.dev/simulated": "true",
            "kubernetes.io/hostname": "hangzhou-1",
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64",
            "node.kubernetes.io/instance-type": "atoll-sim",
        },
    }
    assert nodes.node_labels(CLOUD_NODE, layout.POOL_LABEL)["openyurt.io/is-edge-worker"] == "false"


def test_node_status_is_healthy_with_capacity_addresses_and_node_info() -> None:
    status = nodes.node_status(EDGE_NODE, MOMENT)

    expected_capacity = {
        "cpu": "32",
        "memory": "128Gi",
        "pods": "500",
        "ephemeral-storage": "500Gi",
    }
    assert status["capacity"] == expected_capacity
    assert status["allocatable"] == expected_capacity
    assert statuses(status["conditions"]) == {
        "MemoryPressure": "False",
        "DiskPressure": "False",
        "PIDPressure": "False",
        "Ready": "True",
    }
    ready = status["conditions"][-1]
    assert ready["reason"] == "KubeletReady"
    assert ready["lastHeartbeatTime"] == ready["lastTransitionTime"] == "2026-01-01T12:30:05Z"
    assert status["addresses"] == [
        {"type": "InternalIP", "address": "127.1.0.4"},
        {"type": "Hostname", "address": "hangzhou-1"},
    ]
    assert status["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    info = status["nodeInfo"]
    assert info["kubeletVersion"] == "v1.37.2"
    assert info["kubeProxyVersion"] == ""
    assert info["osImage"] == "atoll simulated node"
    assert info["containerRuntimeVersion"] == "atoll-sim://1"
    assert (info["operatingSystem"], info["architecture"]) == ("linux", "amd64")
    assert {"machineID", "systemUUID", "bootID", "kernelVersion"} <= info.keys()
    assert all(isinstance(value, str) for value in info.values())


def test_node_status_keeps_transition_time_only_while_the_condition_holds() -> None:
    previous = [condition("Ready", "Unknown"), condition("DiskPressure", "False")]

    status = nodes.node_status(EDGE_NODE, MOMENT, previous)

    by_type = {item["type"]: item for item in status["conditions"]}
    assert by_type["Ready"]["lastTransitionTime"] == "2026-01-01T12:30:05Z"
    assert by_type["DiskPressure"]["lastTransitionTime"] == EARLIER
    assert by_type["DiskPressure"]["lastHeartbeatTime"] == "2026-01-01T12:30:05Z"


def test_lease_is_owned_by_its_node_and_renewed_in_microseconds() -> None:
    lease = nodes.lease_object("hangzhou-1", "node-uid", MOMENT)

    assert lease["metadata"] == {
        "name": "hangzhou-1",
        "namespace": "kube-node-lease",
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "hangzhou-1", "uid": "node-uid"}
        ],
    }
    assert lease["spec"] == {
        "holderIdentity": "hangzhou-1",
        "leaseDurationSeconds": 40,
        "renewTime": "2026-01-01T12:30:05.123456Z",
    }
    renewal = nodes.lease_renewal("hangzhou-1", "node-uid", MOMENT)
    assert renewal == {"metadata": {"ownerReferences": lease["metadata"]["ownerReferences"]}} | {
        "spec": lease["spec"]
    }


# Addresses


def test_node_and_pod_addresses_stay_on_loopback_and_never_overlap() -> None:
    last = layout.MAX_NODES - 1
    node_ips = {addresses.node_ip(index) for index in range(layout.MAX_NODES)}
    blocks = [addresses.pod_network(index) for index in (0, 1, last)]

    assert len(node_ips) == layout.MAX_NODES
    assert all(ipaddress.IPv4Address(ip) in LOOPBACK for ip in node_ips)
    assert addresses.node_ip(0) == "127.1.0.1"
    assert addresses.node_ip(254) == "127.1.1.1"
    assert all(block.subnet_of(LOOPBACK) for block in blocks)
    assert not blocks[0].overlaps(blocks[1])
    assert not any(block.overlaps(addresses.NODE_NETWORK) for block in blocks)
    assert blocks[-1].broadcast_address == ipaddress.IPv4Address("127.255.255.255")


def test_pod_addresses_are_unique_and_stable_per_pod() -> None:
    pool = addresses.PodAddresses(addresses.pod_network(3))

    handed_out = [pool.assign(f"uid-{number}") for number in range(100)]

    assert len(set(handed_out)) == 100
    assert all(ipaddress.IPv4Address(ip) in pool.network for ip in handed_out)
    assert pool.assign("uid-7") == handed_out[7]
    assert pool.address_of("uid-7") == handed_out[7]


def test_pod_addresses_skip_what_existing_pods_hold() -> None:
    pool = addresses.PodAddresses(ipaddress.IPv4Network("127.128.0.0/29"))

    assert pool.learn("old-a", "127.128.0.1")
    assert pool.learn("old-b", "127.128.0.3")
    assert not pool.learn("stranger", "127.128.0.3")
    assert not pool.learn("elsewhere", "127.129.0.9")
    assert not pool.learn("garbage", "not-an-ip")

    fresh = {pool.assign(f"new-{number}") for number in range(4)}
    assert fresh == {"127.128.0.2", "127.128.0.4", "127.128.0.5", "127.128.0.6"}
    with pytest.raises(addresses.AddressesExhausted, match=r"127\.128\.0\.0/29"):
        pool.assign("one-too-many")


def test_released_addresses_are_reused_only_after_the_others() -> None:
    pool = addresses.PodAddresses(ipaddress.IPv4Network("127.128.0.0/29"))
    first = pool.assign("a")
    pool.assign("b")

    pool.release("a")

    assert pool.address_of("a") is None
    assert [pool.assign(uid) for uid in ("c", "d", "e", "f", "g")][-1] == first
    assert len(pool) == 6


# Pods


@pytest.mark.parametrize(
    ("pod", "step"),
    [
        (make_pod(), "start"),
        (make_pod(phase="Pending"), "start"),
        (make_pod(phase="Running"), "start"),
        (make_pod(deleting=True, phase="Running", pod_ip="127.128.48.1"), "delete"),
        (make_pod(deleting=True, phase="Succeeded"), "delete"),
        (make_pod(phase="Succeeded"), "none"),
        (make_pod(phase="Failed"), "none"),
        (started(make_pod()), "none"),
        (started(make_pod(gates=["tenant/ready"])), "none"),
    ],
)
def test_plan_names_the_one_step_a_pod_needs(pod: KubeObject, step: str) -> None:
    assert podstatus.plan(pod) == step


def test_plan_reconditions_a_started_pod_marked_not_ready_by_someone_else() -> None:
    pod = started(make_pod())
    pod["status"]["conditions"] = [
        item | {"status": "False"} if item["type"] == "Ready" else item
        for item in pod["status"]["conditions"]
    ]

    assert podstatus.plan(pod) == "conditions"
    assert statuses(podstatus.pod_conditions(pod, MOMENT))["Ready"] == "True"


def test_plan_reconditions_a_started_pod_whose_gate_turned_true() -> None:
    pod = started(make_pod(gates=["tenant/ready"]))
    pod["status"]["conditions"].append(condition("tenant/ready"))

    assert podstatus.plan(pod) == "conditions"
    assert statuses(podstatus.pod_conditions(pod, MOMENT))["Ready"] == "True"


def test_running_status_starts_every_container() -> None:
    pod = make_pod(phase="Pending", conditions=[condition("PodScheduled")])

    status = podstatus.running_status(
        pod, host_ip="127.1.0.4", pod_ip="127.128.48.1", moment=MOMENT
    )

    assert status["phase"] == "Running"
    assert (status["hostIP"], status["hostIPs"]) == ("127.1.0.4", [{"ip": "127.1.0.4"}])
    assert (status["podIP"], status["podIPs"]) == ("127.128.48.1", [{"ip": "127.128.48.1"}])
    assert status["startTime"] == "2026-01-01T12:30:05Z"
    assert status["observedGeneration"] == 1
    assert statuses(status["conditions"]) == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "True",
        "PodScheduled": "True",
    }
    scheduled = next(item for item in status["conditions"] if item["type"] == "PodScheduled")
    assert scheduled["lastTransitionTime"] == EARLIER
    assert status["containerStatuses"][0] == {
        "name": "app",
        "image": "nginx:1.27",
        "imageID": "sim://nginx:1.27",
        "containerID": "atoll-sim://uid-1/app",
        "restartCount": 0,
        "lastState": {},
        "ready": True,
        "started": True,
        "state": {"running": {"startedAt": "2026-01-01T12:30:05Z"}},
    }
    assert [item["name"] for item in status["containerStatuses"]] == ["app", "log"]
    assert "initContainerStatuses" not in status


def test_running_status_completes_init_containers_and_runs_sidecars() -> None:
    pod = make_pod(
        init_containers=[
            {"name": "setup", "image": "busybox"},
            {"name": "proxy", "image": "envoy", "restartPolicy": "Always"},
        ]
    )

    status = podstatus.running_status(
        pod, host_ip="127.1.0.4", pod_ip="127.128.48.1", moment=MOMENT
    )

    setup, proxy = status["initContainerStatuses"]
    assert setup["state"]["terminated"]["reason"] == "Completed"
    assert setup["state"]["terminated"]["exitCode"] == 0
    assert setup["containerID"] == "atoll-sim://uid-1/setup"
    assert proxy["state"] == {"running": {"startedAt": "2026-01-01T12:30:05Z"}}
    assert proxy["ready"] is True


def test_readiness_gates_hold_ready_until_their_conditions_are_true() -> None:
    pod = make_pod(
        gates=["tenant/ready", "lb/registered"],
        conditions=[condition("tenant/ready"), condition("lb/registered", "False")],
    )

    conditions = podstatus.pod_conditions(pod, MOMENT)

    assert statuses(conditions) == {
        "PodReadyToStartContainers": "True",
        "Initialized": "True",
        "ContainersReady": "True",
        "Ready": "False",
        "PodScheduled": "True",
        "tenant/ready": "True",
        "lb/registered": "False",
    }
    ready = next(item for item in conditions if item["type"] == "Ready")
    assert ready["reason"] == "ReadinessGatesNotReady"
    assert condition("tenant/ready") in conditions
    assert condition("lb/registered", "False") in conditions


def test_readiness_gates_all_true_make_the_pod_ready() -> None:
    pod = make_pod(gates=["tenant/ready"], conditions=[condition("tenant/ready")])

    assert podstatus.gates_passed(pod)
    assert statuses(podstatus.pod_conditions(pod, MOMENT))["Ready"] == "True"


def test_a_gate_without_its_condition_is_not_passed() -> None:
    assert not podstatus.gates_passed(make_pod(gates=["tenant/ready"]))
    assert podstatus.gates_passed(make_pod())


def test_host_network_pods_take_the_node_address() -> None:
    pool = addresses.PodAddresses(addresses.pod_network(EDGE_NODE.index))

    host_ip = podstatus.pod_address(make_pod(host_network=True), "127.1.0.4", pool)
    pod_ip = podstatus.pod_address(make_pod(), "127.1.0.4", pool)

    assert host_ip == "127.1.0.4"
    assert ipaddress.IPv4Address(pod_ip) in pool.network
    assert len(pool) == 1


# Control file


def test_control_file_round_trip(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "state" / "nodesim-control.json"

    control.write_control(path, ["shanghai", "hangzhou", "hangzhou"])

    assert control.read_control(path) == frozenset({"hangzhou", "shanghai"})
    assert path.read_text() == '{"disconnected": ["hangzhou", "shanghai"]}\n'
    assert list(path.parent.iterdir()) == [path]

    control.write_control(path, [])
    assert control.read_control(path) == frozenset()


def test_missing_control_file_disconnects_nothing(tmp_path: pathlib.Path) -> None:
    assert control.read_control(tmp_path / "absent.json") == frozenset()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not JSON"),
        ('["hangzhou"]', "expected an object"),
        ('{"disconnected": "hangzhou"}', "must be a list of pool names"),
        ('{"disconnected": [1]}', "must be a list of pool names"),
    ],
)
def test_malformed_control_file_is_refused(
    tmp_path: pathlib.Path, content: str, message: str
) -> None:
    path = tmp_path / "control.json"
    path.write_text(content)

    with pytest.raises(ValueError, match=message):
        control.read_control(path)


def test_control_file_is_read_again_only_when_it_changes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "control.json"
    watched = control.ControlFile(path)

    assert watched.poll() == frozenset()
    assert watched.poll() is None
    control.write_control(path, ["edge-a"])
    assert watched.poll() == frozenset({"edge-a"})
    assert watched.poll() is None


def test_links_report_cut_and_restored_pools_and_wake_waiters() -> None:
    links = control.Links(frozenset({"edge-a"}))
    waiting = links.next_reconnect("edge-a")

    cut, restored = links.update(frozenset({"edge-b"}))

    assert (cut, restored) == (frozenset({"edge-b"}), frozenset({"edge-a"}))
    assert waiting.is_set()
    assert links.is_connected("edge-a")
    assert not links.is_connected("edge-b")
    assert not links.next_reconnect("edge-a").is_set()
