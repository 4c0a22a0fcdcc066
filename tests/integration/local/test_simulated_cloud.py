"""The simulator's stand-ins for a cloud on the real super-cluster: volumes and load balancers.

Claims, alone or from a StatefulSet's template, are bound by the real controller-manager to
volumes the simulator provisions in folders of the cluster's state directory; LoadBalancer
Services get loopback addresses from the simulator's load-balancer controller.
"""

from __future__ import annotations

import contextlib
import ipaddress
import pathlib
import stat
import uuid

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from support import cluster as support_cluster
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

DEADLINE = 60.0
STORAGE_CLASS = "atoll-local"
BALANCER_NETWORK = ipaddress.IPv4Network("127.2.0.0/16")
KubeObject = kube_client.KubeObject


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def volumes_folder(super_cluster: support_cluster.SuperCluster) -> pathlib.Path:
    return super_cluster.folder.root / "volumes"


async def make_namespace(api: kube_client.Client) -> str:
    name = unique("cloud")
    await api.create(resources.NAMESPACES.path(), {"metadata": {"name": name}})
    return name


async def bound_claim(api: kube_client.Client, namespace: str) -> KubeObject:
    """A claim without a class, once it is Bound; the class must exist before it is made."""
    await wait.until(
        lambda: _exists(api, resources.STORAGECLASSES.path(name=STORAGE_CLASS)),
        timeout=DEADLINE,
        what=f"StorageClass {STORAGE_CLASS}",
    )
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    await api.create(resources.PVCS.path(namespace), claim)

    async def bound() -> KubeObject | None:
        current = await api.get(resources.PVCS.path(namespace, "data"))
        return current if (current.get("status") or {}).get("phase") == "Bound" else None

    return await wait.until(bound, timeout=DEADLINE, what=f"claim {namespace}/data Bound")


async def create_service(
    api: kube_client.Client, namespace: str, name: str, service_type: str
) -> KubeObject:
    body = {
        "metadata": {"name": name},
        "spec": {"type": service_type, "ports": [{"port": 443, "targetPort": 6443}]},
    }
    return await api.create(resources.SERVICES.path(namespace), body)


async def ingress_of(api: kube_client.Client, namespace: str, name: str) -> list[KubeObject]:
    service = await api.get(resources.SERVICES.path(namespace, name))
    balancer = (service.get("status") or {}).get("loadBalancer") or {}
    return list(balancer.get("ingress") or [])


async def addressed(api: kube_client.Client, namespace: str, name: str) -> KubeObject:
    async def ingress() -> KubeObject | None:
        found = await ingress_of(api, namespace, name)
        return found[0] if found else None

    return await wait.until(ingress, timeout=DEADLINE, what=f"an address for {namespace}/{name}")


async def test_claim_without_class_is_bound_to_a_simulated_volume(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> None:
    namespace = await make_namespace(api)

    claim = await bound_claim(api, namespace)

    volume = await api.get(resources.PVS.path(name=claim["spec"]["volumeName"]))
    folder = volumes_folder(super_cluster) / volume["metadata"]["name"]
    assert claim["spec"]["storageClassName"] == STORAGE_CLASS
    assert volume["metadata"]["name"] == f"pvc-{claim['metadata']['uid']}"
    assert volume["spec"]["storageClassName"] == STORAGE_CLASS
    assert volume["spec"]["capacity"] == {"storage": "1Gi"}
    assert volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert volume["spec"]["hostPath"]["path"] == str(folder)
    assert folder.is_dir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


async def test_deleting_the_claim_removes_its_volume_and_folder(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> None:
    namespace = await make_namespace(api)
    claim = await bound_claim(api, namespace)
    volume_name = claim["spec"]["volumeName"]
    folder = volumes_folder(super_cluster) / volume_name
    assert folder.is_dir()

    await api.delete(resources.PVCS.path(namespace, "data"), uid=claim["metadata"]["uid"])

    assert await vcs.wait_gone(api, resources.PVS.path(name=volume_name), timeout=DEADLINE)
    assert not folder.exists()


async def test_stateful_set_with_a_claim_template_becomes_ready(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)
    await wait.until(
        lambda: _exists(api, resources.SERVICEACCOUNTS.path(namespace, "default")),
        timeout=DEADLINE,
        what="the default ServiceAccount",
    )
    labels = {"app": "store"}
    stateful_set = {
        "metadata": {"name": "store"},
        "spec": {
            "replicas": 1,
            "serviceName": "store",
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "containers": [
                        {
                            "name": "store",
                            "image": "registry.k8s.io/etcd:3.6.16-0",
                            "volumeMounts": [{"name": "data", "mountPath": "/var/lib/etcd"}],
                        }
                    ]
                },
            },
            "volumeClaimTemplates": [
                {
                    "metadata": {"name": "data"},
                    "spec": {
                        "accessModes": ["ReadWriteOnce"],
                        "resources": {"requests": {"storage": "1Gi"}},
                    },
                }
            ],
        },
    }
    await api.create(resources.STATEFULSETS.path(namespace), stateful_set)

    async def ready() -> KubeObject | None:
        current = await api.get(resources.STATEFULSETS.path(namespace, "store"))
        return current if (current.get("status") or {}).get("readyReplicas") == 1 else None

    await wait.until(ready, timeout=DEADLINE, what=f"StatefulSet {namespace}/store ready")
    claim = await api.get(resources.PVCS.path(namespace, "data-store-0"))
    assert claim["status"]["phase"] == "Bound"


async def test_load_balancers_get_distinct_loopback_addresses(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)
    await create_service(api, namespace, "first", "LoadBalancer")
    await create_service(api, namespace, "second", "LoadBalancer")

    first = await addressed(api, namespace, "first")
    second = await addressed(api, namespace, "second")

    assert ipaddress.IPv4Address(first["ip"]) in BALANCER_NETWORK
    assert ipaddress.IPv4Address(second["ip"]) in BALANCER_NETWORK
    assert first["ip"] != second["ip"]
    assert first["ipMode"] == second["ipMode"] == "VIP"


async def test_cluster_ip_service_gets_no_address(api: kube_client.Client) -> None:
    namespace = await make_namespace(api)
    await create_service(api, namespace, "internal", "ClusterIP")
    await create_service(api, namespace, "external", "LoadBalancer")

    # Services are seen in order: once the later one is addressed, the first was passed over.
    await addressed(api, namespace, "external")

    assert await ingress_of(api, namespace, "internal") == []


async def test_service_that_stops_being_a_load_balancer_loses_its_address(
    api: kube_client.Client,
) -> None:
    namespace = await make_namespace(api)
    await create_service(api, namespace, "api", "LoadBalancer")
    await addressed(api, namespace, "api")

    await api.patch(resources.SERVICES.path(namespace, "api"), {"spec": {"type": "ClusterIP"}})

    async def cleared() -> bool:
        return await ingress_of(api, namespace, "api") == []

    assert await wait.until(cleared, timeout=DEADLINE, what=f"{namespace}/api without address")


async def _exists(api: kube_client.Client, path: str) -> bool:
    with contextlib.suppress(errors.NotFound):
        await api.get(path)
        return True
    return False
