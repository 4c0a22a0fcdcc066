"""A tenant Service's cluster IP is the one that routes on the super-cluster.

Each tenant allocates from its own slice of addresses, which the super-cluster serves as a
ServiceCIDR, so the super Service is created with the tenant's address and the tenant
Service is never touched. Only an address the super-cluster already holds is refused: the
tenant Service is then created again, its API server picks another address of the slice,
and the super Service takes that one.
"""

from __future__ import annotations

import ipaddress

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import service_addresses
from support import tenants, vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

KubeObject = kube_client.KubeObject


def service(name: str, **spec: object) -> KubeObject:
    return {
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}], **spec},
    }


async def super_twin(api: kube_client.Client, pair: tenants.TenantPair, name: str) -> KubeObject:
    return await vcs.wait_present(
        api, resources.SERVICES.path(pair.super_namespace("default"), name)
    )


async def test_the_super_service_takes_the_address_the_tenant_was_given(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("svc")
    created = await tenant_a.api.create(resources.SERVICES.path("default"), service(name))

    twin = await super_twin(api, tenant_a, name)
    now = await tenant_a.api.get(resources.SERVICES.path("default", name))

    assert tenant_a.tenant.service_range is not None
    address = created["spec"]["clusterIP"]
    assert ipaddress.ip_address(address) in ipaddress.ip_network(tenant_a.tenant.service_range)
    assert twin["spec"]["clusterIP"] == address
    assert twin["spec"]["clusterIPs"] == [address]
    # Never created again: the tenant's own object, with its first address.
    assert now["metadata"]["uid"] == created["metadata"]["uid"]
    assert service_addresses.REPLACING not in (twin["metadata"].get("annotations") or {})


async def test_a_headless_service_stays_headless_on_both_sides(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("headless")
    created = await tenant_a.api.create(
        resources.SERVICES.path("default"), service(name, clusterIP="None")
    )

    twin = await super_twin(api, tenant_a, name)
    now = await tenant_a.api.get(resources.SERVICES.path("default", name))

    assert twin["spec"]["clusterIP"] == "None"
    assert now["spec"]["clusterIP"] == "None"
    assert now["metadata"]["uid"] == created["metadata"]["uid"]


async def test_an_address_the_super_cluster_holds_is_traded_for_another_of_the_slice(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    assert tenant_a.tenant.service_range is not None
    # A super-cluster Service of the admin's takes an address of the tenant's slice first
    # (the super-cluster may hand out any address of the ranges it serves).
    taken = str(ipaddress.ip_network(tenant_a.tenant.service_range).network_address + 250)
    squatter = tenants.unique("squatter")
    await api.create(resources.SERVICES.path("default"), service(squatter, clusterIP=taken))
    name = tenants.unique("asked")
    try:
        created = await tenant_a.api.create(
            resources.SERVICES.path("default"), service(name, clusterIP=taken)
        )
        path = resources.SERVICES.path("default", name)

        async def same_address() -> tuple[KubeObject, KubeObject] | None:
            twin = await super_twin(api, tenant_a, name)
            try:
                now = await tenant_a.api.get(path)
            except errors.NotFound:
                return None
            same = now["spec"]["clusterIP"] == twin["spec"]["clusterIP"]
            return (now, twin) if same else None

        now, twin = await wait.until(
            same_address, timeout=60, what=f"tenant Service {name} to get another address"
        )
    finally:
        await api.delete(resources.SERVICES.path("default", squatter))

    assert created["spec"]["clusterIP"] == taken
    assert now["spec"]["clusterIP"] != taken
    assert service_addresses.in_own_range(tenant_a.tenant, now["spec"]["clusterIP"])
    assert now["metadata"]["uid"] != created["metadata"]["uid"]
    assert now["spec"]["selector"] == {"app": name}
    assert service_addresses.REPLACING not in (twin["metadata"].get("annotations") or {})


async def test_tenants_never_share_a_service_range(
    api: kube_client.Client, tenant_a: tenants.TenantPair, tenant_b: tenants.TenantPair
) -> None:
    first, second = tenant_a.tenant.service_range, tenant_b.tenant.service_range
    assert first is not None
    assert second is not None

    a_service = await tenant_a.api.create(
        resources.SERVICES.path("default"), service(tenants.unique("a"))
    )
    b_service = await tenant_b.api.create(
        resources.SERVICES.path("default"), service(tenants.unique("b"))
    )

    assert not ipaddress.ip_network(first).overlaps(ipaddress.ip_network(second))
    assert ipaddress.ip_address(a_service["spec"]["clusterIP"]) in ipaddress.ip_network(first)
    assert ipaddress.ip_address(b_service["spec"]["clusterIP"]) in ipaddress.ip_network(second)
    for pair, created in ((tenant_a, a_service), (tenant_b, b_service)):
        twin = await super_twin(api, pair, created["metadata"]["name"])
        assert twin["spec"]["clusterIP"] == created["spec"]["clusterIP"]
