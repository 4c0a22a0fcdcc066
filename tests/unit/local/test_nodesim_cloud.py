"""Unit tests for the simulator's stand-ins for a cloud, without an API server.

Covers load-balancer addresses and what the controller does to a Service
(`loadbalancers`), and the StorageClass, which claims get a volume, the volume built for a
claim and which volumes are deleted (`storage`).
"""

from __future__ import annotations

import ipaddress
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

from atoll.local.nodesim import loadbalancers, main, storage

KubeObject = dict[str, Any]

ROOT = pathlib.Path("/var/lib/atoll/volumes")
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")


def make_service(
    service_type: str = "LoadBalancer",
    *,
    ingress: list[KubeObject] | None = None,
    balancer_class: str | None = None,
) -> KubeObject:
    spec: KubeObject = {"type": service_type, "ports": [{"port": 443}]}
    if balancer_class:
        spec["loadBalancerClass"] = balancer_class
    status: KubeObject = {"loadBalancer": {"ingress": ingress} if ingress else {}}
    metadata = {"name": "api", "namespace": "tenant-a", "uid": "svc-1", "resourceVersion": "5"}
    return {"metadata": metadata, "spec": spec, "status": status}


def make_claim(
    *,
    storage_class: str | None = storage.STORAGE_CLASS,
    phase: str | None = "Pending",
    volume_name: str | None = None,
    request: str | None = "5Gi",
    deleting: bool = False,
) -> KubeObject:
    spec: KubeObject = {"accessModes": ["ReadWriteOnce", "ReadOnlyMany"]}
    if storage_class is not None:
        spec["storageClassName"] = storage_class
    if volume_name:
        spec["volumeName"] = volume_name
    if request:
        spec["resources"] = {"requests": {"storage": request}}
    metadata: KubeObject = {"name": "data-etcd-0", "namespace": "tenant-a", "uid": "claim-1"}
    if deleting:
        metadata["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    return {"metadata": metadata, "spec": spec, "status": {"phase": phase} if phase else {}}


def released(volume: KubeObject, phase: str = "Released") -> KubeObject:
    return volume | {"status": {"phase": phase}}


# -- load-balancer addresses ------------------------------------------------------------------


def test_addresses_start_at_first_of_range_and_are_unique() -> None:
    pool = loadbalancers.LoadBalancerAddresses()

    given = [pool.assign(f"svc-{number}") for number in range(300)]

    assert given[0] == "127.2.0.1"
    assert len(set(given)) == 300
    assert all(ipaddress.IPv4Address(address) in loadbalancers.NETWORK for address in given)
    assert loadbalancers.NETWORK.subnet_of(LOOPBACK)


def test_a_service_keeps_its_address() -> None:
    pool = loadbalancers.LoadBalancerAddresses()

    first = pool.assign("svc-a")

    assert pool.assign("svc-a") == first
    assert pool.address_of("svc-a") == first
    assert len(pool) == 1


def test_learned_addresses_are_never_handed_out() -> None:
    pool = loadbalancers.LoadBalancerAddresses()

    assert pool.learn("svc-old", "127.2.0.1")
    assert pool.learn("svc-older", "127.2.0.2")

    assert pool.assign("svc-new") == "127.2.0.3"


@pytest.mark.parametrize(
    "address",
    ["10.0.0.7", "127.1.0.1", "127.3.0.1", "fd00::1", "not-an-address"],
    ids=["private", "node-range", "next-range", "ipv6", "text"],
)
def test_addresses_outside_the_range_are_not_learned(address: str) -> None:
    pool = loadbalancers.LoadBalancerAddresses()

    assert not pool.learn("svc-a", address)
    assert pool.address_of("svc-a") is None


def test_an_address_held_by_another_service_is_not_learned() -> None:
    pool = loadbalancers.LoadBalancerAddresses()
    pool.learn("svc-a", "127.2.0.9")

    assert not pool.learn("svc-b", "127.2.0.9")
    assert pool.address_of("svc-a") == "127.2.0.9"


def test_a_released_address_is_free_again_after_the_others() -> None:
    pool = loadbalancers.LoadBalancerAddresses(ipaddress.IPv4Network("127.2.0.0/29"))
    pool.assign("svc-gone")

    pool.release("svc-gone")
    given = [pool.assign(f"svc-{number}") for number in range(6)]

    assert pool.address_of("svc-gone") is None
    assert given == [f"127.2.0.{last}" for last in (2, 3, 4, 5, 6, 1)]
    with pytest.raises(loadbalancers.AddressesExhausted, match=r"127\.2\.0\.0/29"):
        pool.assign("svc-late")


def test_a_range_off_loopback_is_refused() -> None:
    with pytest.raises(ValueError, match="loopback"):
        loadbalancers.LoadBalancerAddresses(ipaddress.IPv4Network("10.2.0.0/16"))


@pytest.mark.parametrize(
    ("service", "step"),
    [
        (make_service(), "assign"),
        (make_service(ingress=[{"ip": "127.2.0.4", "ipMode": "VIP"}]), "none"),
        (make_service(ingress=[{"hostname": "lb.example.com"}]), "none"),
        (make_service(balancer_class="example.com/lb"), "none"),
        (make_service("ClusterIP"), "none"),
        (make_service("NodePort"), "none"),
        (make_service("ClusterIP", ingress=[{"ip": "127.2.0.4"}]), "clear"),
        (make_service("ClusterIP", ingress=[{"ip": "203.0.113.9"}]), "none"),
        (make_service("ClusterIP", ingress=[{"ip": "::7f02:1"}]), "none"),
    ],
    ids=[
        "balancer-without-address",
        "balancer-addressed",
        "balancer-with-hostname",
        "other-balancer-class",
        "cluster-ip",
        "node-port",
        "no-longer-balancer",
        "foreign-address-kept",
        "ipv6-is-not-ours",
    ],
)
def test_load_balancer_plan(service: KubeObject, step: str) -> None:
    assert loadbalancers.plan(service) == step


# -- storage ------------------------------------------------------------------------------------


def test_storage_class_is_the_public_default_and_binds_at_once() -> None:
    storage_class = storage.storage_class()

    assert storage_class["metadata"]["name"] == "atoll-local"
    assert storage_class["metadata"]["annotations"] == {
        "storageclass.kubernetes.io/is-default-class": "true"
    }
    # Public: every tenant of the local super-cluster may use it.
    assert storage_class["metadata"]["labels"] == {
        "atoll.dev/simulated": "true",
        "atoll.dev/public": "true",
    }
    assert storage_class["provisioner"] == "atoll.dev/simulated"
    assert storage_class["volumeBindingMode"] == "Immediate"
    assert storage_class["reclaimPolicy"] == "Delete"


@pytest.mark.parametrize(
    ("claim", "wanted"),
    [
        (make_claim(), True),
        (make_claim(phase=None), True),
        (make_claim(storage_class=None), False),
        (make_claim(storage_class=""), False),
        (make_claim(storage_class="fast"), False),
        (make_claim(phase="Bound"), False),
        (make_claim(phase="Lost"), False),
        (make_claim(volume_name="pv-chosen"), False),
        (make_claim(deleting=True), False),
        (make_claim(request=None), False),
    ],
    ids=[
        "pending-of-our-class",
        "just-created",
        "without-class",
        "class-disabled",
        "other-class",
        "bound",
        "lost",
        "volume-chosen",
        "being-deleted",
        "no-size",
    ],
)
def test_which_claims_get_a_volume(claim: KubeObject, wanted: bool) -> None:
    assert storage.wants_volume(claim) is wanted


def test_volume_is_built_for_its_claim() -> None:
    volume = storage.volume_for(make_claim(), ROOT)

    assert volume["metadata"]["name"] == "pvc-claim-1"
    assert volume["metadata"]["annotations"] == {
        "pv.kubernetes.io/provisioned-by": "atoll.dev/simulated"
    }
    spec = volume["spec"]
    assert spec["capacity"] == {"storage": "5Gi"}
    assert spec["accessModes"] == ["ReadWriteOnce", "ReadOnlyMany"]
    assert spec["storageClassName"] == "atoll-local"
    assert spec["persistentVolumeReclaimPolicy"] == "Delete"
    assert spec["volumeMode"] == "Filesystem"
    assert spec["hostPath"] == {
        "path": "/var/lib/atoll/volumes/pvc-claim-1",
        "type": "DirectoryOrCreate",
    }
    assert spec["claimRef"] == {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": "tenant-a",
        "name": "data-etcd-0",
        "uid": "claim-1",
    }


def test_volume_keeps_a_block_claims_mode() -> None:
    claim = make_claim()
    claim["spec"]["volumeMode"] = "Block"

    assert storage.volume_for(claim, ROOT)["spec"]["volumeMode"] == "Block"


def test_released_volume_of_ours_is_deleted() -> None:
    volume = storage.volume_for(make_claim(), ROOT)

    assert storage.wants_deletion(released(volume), ROOT)


def still_bound(volume: KubeObject) -> None:
    volume["status"]["phase"] = "Bound"


def retained(volume: KubeObject) -> None:
    volume["spec"]["persistentVolumeReclaimPolicy"] = "Retain"


def foreign(volume: KubeObject) -> None:
    volume["metadata"]["annotations"] = {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}


def elsewhere(volume: KubeObject) -> None:
    volume["spec"]["hostPath"]["path"] = "/home/someone"


def deleting(volume: KubeObject) -> None:
    volume["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"


@pytest.mark.parametrize("change", [still_bound, retained, foreign, elsewhere, deleting])
def test_other_volumes_are_left_alone(change: Callable[[KubeObject], None]) -> None:
    volume = released(storage.volume_for(make_claim(), ROOT))

    change(volume)

    assert not storage.wants_deletion(volume, ROOT)


def test_volumes_folder_defaults_to_beside_the_control_file() -> None:
    options = main.parse_args(["--kubeconfig=k", "--control=/state/nodesim-control.json"])
    chosen = main.parse_args(["--kubeconfig=k", "--control=/state/c.json", "--volumes=/data"])

    assert main.volumes_folder(options) == pathlib.Path("/state/volumes")
    assert main.volumes_folder(chosen) == pathlib.Path("/data")
