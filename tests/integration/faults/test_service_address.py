"""A tenant Service created again for a new address is never lost on the way.

When the super-cluster refuses a tenant Service's address (one of its own Services holds
it), the syncer creates the tenant Service again (a cluster IP cannot change) so that it
gets another. It writes the replacement into the super Service first, so a syncer that dies
after the deletion finishes the re-creation once it is back; a Service held by finalizers is
never put into deletion at all.
"""

from __future__ import annotations

import contextlib
import ipaddress

import orjson
import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import service_addresses
from support import cluster as support_cluster
from support import invariants, tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

FINALIZER = "example.com/keep"


async def addressed(
    api: kube_client.Client, tenant: invariants.TrackedTenant, name: str
) -> kube_client.KubeObject:
    """Wait until tenant Service `name` shows its super Service's cluster IP; the tenant's."""
    super_path = resources.SERVICES.path(tenant.pair.super_namespace("default"), name)
    path = resources.SERVICES.path("default", name)

    async def swapped() -> kube_client.KubeObject | None:
        try:
            super_service = await api.get(super_path)
            tenant_service = await tenant.pair.api.get(path)
        except errors.NotFound:
            return None
        same = tenant_service["spec"]["clusterIP"] == super_service["spec"]["clusterIP"]
        return tenant_service if same else None

    return await wait.until(swapped, timeout=60, what=f"Service {name} to show the super IP")


@pytest.mark.parametrize("recorded_address", ["its own", "outside its range"])
async def test_a_swap_cut_short_after_the_deletion_is_finished(
    api: kube_client.Client,
    fault_tenants: list[invariants.TrackedTenant],
    super_cluster: support_cluster.SuperCluster,
    recorded_address: str,
) -> None:
    one = fault_tenants[0]
    name = tenants.unique("cut-svc")
    body: kube_client.KubeObject = {
        "metadata": {"name": name},
        "spec": {"selector": {"app": name}, "ports": [{"port": 80}]},
    }
    await one.pair.api.create(resources.SERVICES.path("default"), body)
    first = await addressed(api, one, name)
    super_path = resources.SERVICES.path(one.pair.super_namespace("default"), name)

    # The state a syncer killed between its two tenant calls leaves: the replacement recorded
    # in the super Service, the tenant Service deleted, nothing created yet. The operator
    # (with its syncer) is killed first, so it meets that state only when it is back.
    old_pid = invariants.kill_component(super_cluster, "atoll-operator")
    assert old_pid is not None
    # An address the tenant API server refuses (not of its range) is left to it to pick.
    address = first["spec"]["clusterIP"] if recorded_address == "its own" else "10.96.0.77"
    replacement = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": "default", "labels": {"cut": "short"}},
        "spec": {**body["spec"], "clusterIP": address},
    }
    await api.patch(
        super_path,
        {
            "metadata": {
                "annotations": {service_addresses.REPLACING: orjson.dumps(replacement).decode()}
            }
        },
    )
    await one.pair.api.delete(
        resources.SERVICES.path("default", name), uid=first["metadata"]["uid"]
    )

    await invariants.component_back(super_cluster, "atoll-operator", old_pid)
    again = await addressed(api, one, name)

    assert again["metadata"]["uid"] != first["metadata"]["uid"]
    assert again["metadata"]["labels"] == {"cut": "short"}
    assert service_addresses.in_own_range(one.pair.tenant, again["spec"]["clusterIP"])

    async def recorded_swap_cleared() -> bool:
        annotations = (await api.get(super_path))["metadata"].get("annotations") or {}
        return service_addresses.REPLACING not in annotations

    assert await wait.until(recorded_swap_cleared, timeout=60, what="the swap record cleared")
    await one.pair.api.delete(resources.SERVICES.path("default", name))


async def test_a_service_held_by_finalizers_is_never_put_into_deletion(
    api: kube_client.Client,
    fault_tenants: list[invariants.TrackedTenant],
) -> None:
    one = fault_tenants[0]
    name = tenants.unique("kept-svc")
    path = resources.SERVICES.path("default", name)
    # An address of the tenant's slice that a super-cluster Service holds already.
    assert one.pair.tenant.service_range is not None
    taken = str(ipaddress.ip_network(one.pair.tenant.service_range).network_address + 251)
    squatter = tenants.unique("squatter")
    await api.create(
        resources.SERVICES.path("default"),
        {"metadata": {"name": squatter}, "spec": {"clusterIP": taken, "ports": [{"port": 80}]}},
    )
    await one.pair.api.create(
        resources.SERVICES.path("default"),
        {
            "metadata": {"name": name, "finalizers": [FINALIZER]},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}], "clusterIP": taken},
        },
    )

    async def told() -> str | None:
        listing = await one.pair.api.get(resources.EVENTS.path("default"))
        for event in listing["items"]:
            if event["involvedObject"]["name"] == name and event["reason"] == "AddressKept":
                return str(event["message"])
        return None

    try:
        message = await wait.until(told, timeout=60, what=f"an AddressKept Event on {name}")
        tenant_service = await one.pair.api.get(path)
    finally:
        await one.pair.api.patch(path, {"metadata": {"finalizers": None}})
        with contextlib.suppress(errors.NotFound):
            await one.pair.api.delete(path)
        await api.delete(resources.SERVICES.path("default", squatter))

    assert FINALIZER in message
    assert "deletionTimestamp" not in tenant_service["metadata"]
    assert await tenants.wait_until_missing(one.pair.api, path, timeout=60)
