"""The kubernetes provisioner on the real local super-cluster: apply, ready, pause, destroy.

Pods are scheduled by the real scheduler onto simulated nodes, whose kubelets report them
Running and Ready (no container runs). The local super-cluster has no volume provisioner, so
every test brings a PersistentVolume of a StorageClass name of its own for the datastore.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
import pytest_asyncio

from atoll.core import naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.operator import plan as plans
from atoll.operator import tenant_pki
from atoll.operator.provisioners import base, kubernetes

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

DEADLINE = 120.0
KubeObject = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Tenant:
    plan: plans.ControlPlanePlan
    material: tenant_pki.TenantPki

    @property
    def namespace(self) -> str:
        return self.plan.cluster_namespace


MakeTenant = Callable[..., Awaitable[Tenant]]


def virtual_cluster(uid: str, storage_class: str, **control_plane: Any) -> KubeObject:
    datastore = control_plane.pop("datastore", {"type": "etcd"})
    return {
        "metadata": {"name": f"kp-{uid[:8]}", "namespace": "team", "uid": uid},
        "spec": {
            "controlPlane": {
                "provisioner": "kubernetes",
                "datastore": {**datastore, "storage": {"storageClassName": storage_class}},
                **control_plane,
            }
        },
    }


def cluster_version() -> KubeObject:
    return {
        "spec": {
            "kubernetesVersion": "v1.37.2",
            "etcd": {"image": "registry.k8s.io/etcd:3.6.16-0"},
            "kine": {"image": "rancher/kine:v0.17.5"},
            "apiServer": {"image": "registry.k8s.io/kube-apiserver:v1.37.2"},
            "controllerManager": {"image": "registry.k8s.io/kube-controller-manager:v1.37.2"},
        }
    }


def volume(uid: str, storage_class: str) -> KubeObject:
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": f"atoll-test-pv-{uid}"},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "storageClassName": storage_class,
            # Without a provisioner nothing could delete a hostPath volume's data.
            "persistentVolumeReclaimPolicy": "Retain",
            # Simulated nodes never touch it: no pod of these tests runs for real.
            "hostPath": {
                "path": f"/tmp/atoll-test-pv-{uid}",  # noqa: S108 - never created
                "type": "DirectoryOrCreate",
            },
        },
    }


async def write_pki(api: kube_client.Client, tenant: Tenant) -> None:
    """What the reconciler does before `ensure`: the namespace and both PKI Secrets."""
    await api.create(
        resources.NAMESPACES.path(),
        {"metadata": {"name": tenant.namespace, "labels": tenant.plan.labels}},
    )
    for name, data in (
        (tenant_pki.CA_SECRET, tenant.material.ca_data()),
        (tenant_pki.CERTS_SECRET, tenant.material.certs_data()),
    ):
        await api.create(
            resources.SECRETS.path(tenant.namespace),
            {
                "metadata": {"name": name, "labels": tenant.plan.labels},
                "type": "Opaque",
                "data": data,
            },
        )


@pytest_asyncio.fixture(loop_scope="session")
async def make_tenant(api: kube_client.Client) -> AsyncIterator[MakeTenant]:
    made: list[tuple[Tenant, str]] = []

    async def make(**control_plane: Any) -> Tenant:
        uid = str(uuid.uuid4())
        storage_class = f"atoll-test-{uid[:8]}"
        pv = await api.create(resources.PVS.path(), volume(uid, storage_class))
        plan = plans.build(
            virtual_cluster(uid, storage_class, **control_plane),
            cluster_version(),
            default_provisioner="kubernetes",
        )
        material = tenant_pki.ensure(plan, None, None, renew_before=datetime.timedelta(days=30))
        tenant = Tenant(plan, material)
        made.append((tenant, pv["metadata"]["name"]))
        await write_pki(api, tenant)
        return tenant

    yield make

    for tenant, pv_name in made:
        for path in (
            resources.NAMESPACES.path(name=tenant.namespace),
            resources.PVS.path(name=pv_name),
        ):
            with contextlib.suppress(errors.NotFound):
                await api.delete(path)


async def until_ready(provisioner: base.Provisioner, tenant: Tenant) -> base.ControlPlaneStatus:
    async def ready() -> base.ControlPlaneStatus | None:
        status = await provisioner.ensure(tenant.plan, tenant.material)
        return status if status.ready else None

    return await wait.until(
        ready, timeout=DEADLINE, interval=1.0, what=f"control plane of {tenant.namespace}"
    )


async def exists(api: kube_client.Client, path: str) -> bool:
    try:
        await api.get(path)
    except errors.NotFound:
        return False
    return True


async def claims(api: kube_client.Client, tenant: Tenant) -> list[KubeObject]:
    listing = await api.get(
        resources.PVCS.path(tenant.namespace),
        params={"labelSelector": f"{naming.VC_UID}={tenant.plan.vc_uid}"},
    )
    return list(listing["items"])


async def replicas(api: kube_client.Client, tenant: Tenant) -> dict[str, int]:
    ns = tenant.namespace
    found = {}
    for resource, name in (
        (resources.DEPLOYMENTS, "apiserver"),
        (resources.DEPLOYMENTS, "controller-manager"),
        (resources.STATEFULSETS, tenant.plan.datastore),
    ):
        found[name] = (await api.get(resource.path(ns, name)))["spec"]["replicas"]
    return found


async def test_etcd_control_plane_runs_pauses_resumes_and_is_destroyed(
    api: kube_client.Client, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant()
    ns = tenant.namespace
    provisioner: base.Provisioner = kubernetes.KubernetesProvisioner(api)

    first = await provisioner.ensure(tenant.plan, tenant.material)

    assert not first.ready
    assert first.message.startswith("waiting for ")
    assert first.server == f"https://apiserver.{ns}.svc:443"
    for resource, name in (
        (resources.SECRETS, kubernetes.KUBECONFIG_SECRET),
        (resources.SERVICES, "etcd"),
        (resources.STATEFULSETS, "etcd"),
        (resources.DEPLOYMENTS, "apiserver"),
        (resources.SERVICES, "apiserver"),
        (resources.DEPLOYMENTS, "controller-manager"),
        (kubernetes.NETWORK_POLICIES, "control-plane"),
    ):
        assert await exists(api, resource.path(ns, name)), f"{resource.kind}/{name}"
    namespace = await api.get(resources.NAMESPACES.path(name=ns))
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "baseline"

    running = await until_ready(provisioner, tenant)
    assert running == base.ControlPlaneStatus(
        ready=True, server=f"https://apiserver.{ns}.svc:443", version="v1.37.2"
    )

    await provisioner.pause(tenant.plan)
    assert await replicas(api, tenant) == {"apiserver": 0, "controller-manager": 0, "etcd": 0}
    (claim,) = await claims(api, tenant)
    assert claim["metadata"]["name"] == "data-etcd-0"
    assert claim["status"]["phase"] == "Bound"

    resumed = await until_ready(provisioner, tenant)
    assert resumed.ready
    assert await replicas(api, tenant) == {"apiserver": 1, "controller-manager": 1, "etcd": 1}
    (claim_after,) = await claims(api, tenant)
    assert claim_after["metadata"]["uid"] == claim["metadata"]["uid"]

    await provisioner.destroy(tenant.plan, keep_data=False)

    async def namespace_gone() -> bool:
        return not await exists(api, resources.NAMESPACES.path(name=ns))

    await wait.until(namespace_gone, timeout=DEADLINE, interval=0.5, what=f"{ns} to be deleted")
    await provisioner.destroy(tenant.plan, keep_data=False)


async def test_kine_data_and_pki_survive_destroy_with_keep_data(
    api: kube_client.Client, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant(datastore={"type": "kine"})
    ns = tenant.namespace
    provisioner = kubernetes.KubernetesProvisioner(api)
    await until_ready(provisioner, tenant)
    (claim,) = await claims(api, tenant)

    await provisioner.destroy(tenant.plan, keep_data=True)
    await provisioner.destroy(tenant.plan, keep_data=True)

    for resource, name in (
        (resources.DEPLOYMENTS, "apiserver"),
        (resources.DEPLOYMENTS, "controller-manager"),
        (resources.STATEFULSETS, "kine"),
        (resources.SERVICES, "apiserver"),
        (resources.SERVICES, "etcd"),
        (kubernetes.NETWORK_POLICIES, "control-plane"),
        (resources.SECRETS, kubernetes.KUBECONFIG_SECRET),
    ):
        assert not await exists(api, resource.path(ns, name)), f"{resource.kind}/{name}"
    assert await exists(api, resources.NAMESPACES.path(name=ns))
    assert await exists(api, resources.SECRETS.path(ns, tenant_pki.CA_SECRET))
    assert await exists(api, resources.SECRETS.path(ns, tenant_pki.CERTS_SECRET))
    (kept,) = await claims(api, tenant)
    assert kept["metadata"]["uid"] == claim["metadata"]["uid"]

    # Provisioned again, the datastore comes back on the volume it had.
    await until_ready(provisioner, tenant)
    (reused,) = await claims(api, tenant)
    assert reused["metadata"]["uid"] == claim["metadata"]["uid"]


async def test_node_port_server_is_a_ready_nodes_address(
    api: kube_client.Client, make_tenant: MakeTenant
) -> None:
    tenant = await make_tenant(service={"type": "NodePort"})
    provisioner = kubernetes.KubernetesProvisioner(api)

    status = await provisioner.ensure(tenant.plan, tenant.material)

    service = await api.get(resources.SERVICES.path(tenant.namespace, "apiserver"))
    node_port = service["spec"]["ports"][0]["nodePort"]
    nodes = sorted(
        (await api.get(resources.NODES.path()))["items"], key=lambda n: n["metadata"]["name"]
    )
    addresses = [a for a in nodes[0]["status"]["addresses"] if a["type"] == "InternalIP"]
    assert status.server == f"https://{addresses[0]['address']}:{node_port}"
    await provisioner.destroy(tenant.plan, keep_data=False)
