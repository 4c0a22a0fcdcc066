"""Classes and bound volumes come up to the tenant; hand-written EndpointSlices go down; the
super-cluster's DNS Service is followed for pod translation."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from atoll.core import naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import cluster_objects, dns, kinds, mapping, volumes
from atoll.syncer.pods import translate
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

KubeObject = kube_client.KubeObject
SUFFIX = uuid.uuid4().hex[:6]
PUBLIC_NAME = f"atoll-test-public-{SUFFIX}"
ALLOWED_NAME = f"atoll-test-allowed-{SUFFIX}"
PRIVATE_NAME = f"atoll-test-private-{SUFFIX}"
TENANT_MADE_NAME = f"atoll-test-tenant-made-{SUFFIX}"
LOCAL_CLASS = "atoll-local"  # the local super-cluster's provisioned StorageClass


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def classes_tenant(api: kube_client.Client) -> AsyncIterator[tenants.TenantPair]:
    pair = await tenants.running_tenant(
        api,
        "classes",
        {
            "isolation": {
                "allowedStorageClasses": [ALLOWED_NAME, LOCAL_CLASS],
                "allowedPriorityClasses": [ALLOWED_NAME],
            }
        },
    )
    yield pair
    await pair.api.close()


def class_body(kind: cluster_objects.ClassKind, name: str, **labels: str) -> KubeObject:
    body: KubeObject = {
        "apiVersion": kind.resource.api_version,
        "kind": kind.name,
        "metadata": {"name": name, "labels": labels},
    }
    if kind is cluster_objects.STORAGE_CLASS:
        body |= {
            "provisioner": "example.com/nothing",
            "parameters": {"tier": name},
            "reclaimPolicy": "Retain",
            "volumeBindingMode": "WaitForFirstConsumer",
        }
    else:
        body |= {"value": 1000, "description": f"test class {name}"}
    return body


async def read(client: kube_client.Client, path: str) -> KubeObject | None:
    try:
        return await client.get(path)
    except errors.NotFound:
        return None


@pytest.mark.parametrize(
    "kind",
    [cluster_objects.STORAGE_CLASS, cluster_objects.PRIORITY_CLASS],
    ids=lambda kind: kind.name,
)
async def test_public_and_allowed_classes_come_up_and_go_when_no_longer_offered(
    api: kube_client.Client,
    classes_tenant: tenants.TenantPair,
    kind: cluster_objects.ClassKind,
) -> None:
    tenant_api = classes_tenant.api
    path = kind.resource.path
    public = class_body(kind, PUBLIC_NAME, **{cluster_objects.PUBLIC_LABEL: "true"})
    super_names = (PUBLIC_NAME, ALLOWED_NAME, PRIVATE_NAME)
    try:
        await api.create(path(), public)
        await api.create(path(), class_body(kind, ALLOWED_NAME))
        await api.create(path(), class_body(kind, PRIVATE_NAME))
        tenant_made = await tenant_api.create(path(), class_body(kind, TENANT_MADE_NAME))

        async def both_copied() -> list[KubeObject] | None:
            copies = [await read(tenant_api, path(name=name)) for name in super_names[:2]]
            found = [item for item in copies if item is not None]
            return found if len(found) == 2 else None

        copies = await wait.until(both_copied, timeout=60, what=f"{kind.name} copies")
        assert await read(tenant_api, path(name=PRIVATE_NAME)) is None
        for copy in copies:
            original = await api.get(path(name=copy["metadata"]["name"]))
            assert cluster_objects.is_copy(copy)
            for field in kind.fields:
                assert copy.get(field) == original.get(field), field

        # No longer public: the copy goes; the allowed one and the tenant's own stay.
        await api.patch(
            path(name=PUBLIC_NAME), {"metadata": {"labels": {cluster_objects.PUBLIC_LABEL: None}}}
        )
        assert await tenants.wait_until_missing(tenant_api, path(name=PUBLIC_NAME), timeout=60)
        assert await read(tenant_api, path(name=ALLOWED_NAME)) is not None
        kept = await tenant_api.get(path(name=TENANT_MADE_NAME))
        assert kept["metadata"]["uid"] == tenant_made["metadata"]["uid"]
        assert not cluster_objects.is_copy(kept)

        # Deleted on the super-cluster: the copy goes too.
        await api.delete(path(name=ALLOWED_NAME))
        assert await tenants.wait_until_missing(tenant_api, path(name=ALLOWED_NAME), timeout=60)
    finally:
        for name in super_names:
            with contextlib.suppress(errors.NotFound):
                await api.delete(path(name=name))
        with contextlib.suppress(errors.NotFound):
            await tenant_api.delete(path(name=TENANT_MADE_NAME))


async def test_a_bound_claim_shows_its_volume_in_the_tenant_and_loses_it_with_the_claim(
    api: kube_client.Client, classes_tenant: tenants.TenantPair
) -> None:
    tenant_api = classes_tenant.api
    classes = resources.STORAGECLASSES
    # The listed class comes up first, default marking and all, so the claim takes it.
    local = await wait.until(
        lambda: read(tenant_api, classes.path(name=LOCAL_CLASS)),
        timeout=60,
        what="the tenant's copy of the local StorageClass",
    )
    assert cluster_objects.is_copy(local)
    name = tenants.unique("data")
    claim = await tenant_api.create(
        resources.PVCS.path("default"),
        {
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    assert claim["spec"]["storageClassName"] == LOCAL_CLASS

    async def bound() -> KubeObject | None:
        current = await tenant_api.get(resources.PVCS.path("default", name))
        phase = (current.get("status") or {}).get("phase")
        return current if phase == "Bound" and current["spec"].get("volumeName") else None

    tenant_claim = await wait.until(bound, timeout=90, what="the tenant claim Bound")
    super_namespace = classes_tenant.super_namespace("default")
    super_claim = await api.get(resources.PVCS.path(super_namespace, name))
    super_volume = await api.get(resources.PVS.path(name=super_claim["spec"]["volumeName"]))
    tenant_volume = await tenant_api.get(
        resources.PVS.path(name=tenant_claim["spec"]["volumeName"])
    )

    assert tenant_volume["metadata"]["name"] == super_volume["metadata"]["name"]
    for field in ("capacity", "accessModes", "storageClassName", "volumeMode"):
        assert tenant_volume["spec"][field] == super_volume["spec"][field], field
    assert (
        tenant_volume["spec"]["persistentVolumeReclaimPolicy"]
        == super_volume["spec"]["persistentVolumeReclaimPolicy"]
    )
    assert tenant_volume["spec"]["claimRef"]["uid"] == claim["metadata"]["uid"]
    assert tenant_volume["spec"]["csi"]["driver"] == volumes.STAND_IN_DRIVER
    assert "hostPath" not in tenant_volume["spec"]
    assert tenant_volume["status"]["phase"] == "Bound"
    assert tenant_claim["status"]["capacity"] == super_volume["spec"]["capacity"]
    # Each side's binder keeps its own record: the syncer strips neither.
    assert super_claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert tenant_claim["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"

    await tenant_api.delete(resources.PVCS.path("default", name))
    assert await tenants.wait_until_missing(
        tenant_api, resources.PVS.path(name=tenant_volume["metadata"]["name"])
    )
    assert await tenants.wait_until_missing(api, resources.PVCS.path(super_namespace, name))


async def test_hand_written_slices_of_selectorless_services_go_down_controller_slices_do_not(
    api: kube_client.Client, classes_tenant: tenants.TenantPair
) -> None:
    tenant_api = classes_tenant.api
    external, selected = tenants.unique("external"), tenants.unique("selected")
    ports = [{"port": 5432}]
    await tenant_api.create(
        resources.SERVICES.path("default"),
        {"metadata": {"name": external}, "spec": {"ports": ports}},
    )
    await tenant_api.create(
        resources.SERVICES.path("default"),
        {"metadata": {"name": selected}, "spec": {"selector": {"app": selected}, "ports": ports}},
    )
    # Hand-written Endpoints too: the tenant's mirroring controller makes a slice of them.
    await tenant_api.create(
        resources.ENDPOINTS.path("default"),
        {
            "metadata": {"name": external},
            "subsets": [{"addresses": [{"ip": "192.0.2.9"}], "ports": ports}],
        },
    )
    # A documentation address (RFC 5737): stored as data, never dialled.
    hand_written = await tenant_api.create(
        resources.ENDPOINTSLICES.path("default"),
        {
            "metadata": {
                "name": f"{external}-by-hand",
                "labels": {kinds.SERVICE_NAME_LABEL: external},
            },
            "addressType": "IPv4",
            "endpoints": [{"addresses": ["192.0.2.10"]}],
            "ports": [{"port": 5432, "protocol": "TCP"}],
        },
    )
    super_namespace = classes_tenant.super_namespace("default")

    copy = await wait.until(
        lambda: read(
            api, resources.ENDPOINTSLICES.path(super_namespace, hand_written["metadata"]["name"])
        ),
        timeout=60,
        what="the super copy of the hand-written slice",
    )
    assert copy["metadata"]["labels"][kinds.SERVICE_NAME_LABEL] == external
    assert copy["metadata"]["labels"][naming.VC_UID] == classes_tenant.tenant.vc_uid
    assert copy["metadata"]["annotations"][mapping.TENANT_UID] == hand_written["metadata"]["uid"]
    assert copy["endpoints"][0]["addresses"] == ["192.0.2.10"]

    async def controller_slices() -> list[str] | None:
        listing = await tenant_api.get(resources.ENDPOINTSLICES.path("default"))
        names = [
            item["metadata"]["name"]
            for item in listing["items"]
            if (item["metadata"].get("labels") or {}).get(kinds.SERVICE_NAME_LABEL)
            in (external, selected)
            and item["metadata"]["name"] != hand_written["metadata"]["name"]
        ]
        return names if len(names) >= 2 else None

    made_by_tenant = await wait.until(
        controller_slices, timeout=60, what="the tenant controllers' slices"
    )
    # The super Endpoints prove the syncer has worked through this Service's objects.
    await wait.until(
        lambda: read(api, resources.ENDPOINTS.path(super_namespace, external)),
        timeout=60,
        what="the super Endpoints",
    )
    for slice_name in made_by_tenant:
        assert await read(api, resources.ENDPOINTSLICES.path(super_namespace, slice_name)) is None

    await tenant_api.delete(
        resources.ENDPOINTSLICES.path("default", hand_written["metadata"]["name"])
    )
    assert await tenants.wait_until_missing(
        api, resources.ENDPOINTSLICES.path(super_namespace, hand_written["metadata"]["name"])
    )


async def test_the_super_controllers_endpoints_of_a_selector_service_are_left_alone(
    api: kube_client.Client, classes_tenant: tenants.TenantPair
) -> None:
    tenant_api = classes_tenant.api
    name = tenants.unique("selected")
    await tenant_api.create(
        resources.SERVICES.path("default"),
        {"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}},
    )
    super_namespace = classes_tenant.super_namespace("default")
    # The super Endpoints carry the Service's ownership labels, but are the controller's.
    theirs = await wait.until(
        lambda: read(api, resources.ENDPOINTS.path(super_namespace, name)),
        timeout=60,
        what="the super controller's Endpoints",
    )
    await wait.until(
        lambda: read(tenant_api, resources.ENDPOINTS.path("default", name)),
        timeout=60,
        what="the tenant controller's Endpoints",
    )

    # A change to the tenant's Endpoints is synced; then a marker shows the queue moved on.
    await tenant_api.patch(
        resources.ENDPOINTS.path("default", name), {"metadata": {"labels": {"touched": "yes"}}}
    )
    marker = tenants.unique("marker")
    await tenant_api.create(resources.CONFIGMAPS.path("default"), {"metadata": {"name": marker}})
    await wait.until(
        lambda: read(api, resources.CONFIGMAPS.path(super_namespace, marker)),
        timeout=60,
        what="the marker's super copy",
    )

    now = await read(api, resources.ENDPOINTS.path(super_namespace, name))
    assert now is not None
    assert now["metadata"]["uid"] == theirs["metadata"]["uid"]


async def test_super_dns_is_the_kube_dns_service_while_there_is_one(
    api: kube_client.Client,
) -> None:
    service_path = resources.SERVICES.path(dns.DNS_NAMESPACE, dns.DNS_SERVICE)
    assert await read(api, service_path) is None, "the local super-cluster runs no DNS"
    source = dns.ClusterDns(api, domain="cluster.local")
    follow = asyncio.get_running_loop().create_task(source.run())

    async def synced() -> bool:
        return source.synced()

    async def settings() -> translate.DnsSettings | None:
        return source.settings()

    async def no_settings() -> bool:
        return source.settings() is None

    created: KubeObject | None = None
    try:
        await wait.until(synced, timeout=30, what="the kube-dns watch")
        assert source.settings() is None
        created = await api.create(
            resources.SERVICES.path(dns.DNS_NAMESPACE),
            {
                "metadata": {"name": dns.DNS_SERVICE},
                "spec": {"ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
            },
        )

        found = await wait.until(settings, timeout=30, what="the kube-dns address")
        assert found == translate.DnsSettings(created["spec"]["clusterIP"], "cluster.local")

        await api.delete(service_path, uid=created["metadata"]["uid"])
        await wait.until(no_settings, timeout=30, what="no DNS once kube-dns is gone")
    finally:
        follow.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await follow
        if created is not None:
            with contextlib.suppress(errors.NotFound):
                await api.delete(service_path, uid=created["metadata"]["uid"])
