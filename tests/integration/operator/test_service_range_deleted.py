"""A VirtualCluster's ServiceCIDR deleted by hand on the super-cluster.

The super-cluster keeps a ServiceCIDR while any Service holds one of its addresses, so a
hand-made deletion leaves it Terminating for as long as the tenant's Services live. Nothing
is lost meanwhile: the addresses given keep routing, the operator does not make a second
range, and the VirtualCluster says what happened in its `ServiceRangeReady` condition. The
range goes for good with the cluster's last Service, when the VirtualCluster is deleted.
"""

from __future__ import annotations

import ipaddress

import pytest

from atoll.core import api as atoll_api
from atoll.core import conditions, naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import resources
from atoll.operator import service_ranges
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

KubeObject = kube_client.KubeObject

# The operator looks at each VirtualCluster at least this often (its health timer) plus slack.
NOTICED_WITHIN = 90.0


async def test_a_range_deleted_by_hand_is_reported_kept_until_the_cluster_goes(
    api: kube_client.Client, namespace: str
) -> None:
    created = await vcs.create_vc(api, namespace, "cidr")
    vc = await vcs.wait_phase(api, namespace, "cidr", "Running")
    service_range = vc["status"]["serviceCIDR"]
    held_path = service_ranges.SERVICE_CIDRS.path(name=vc["status"]["clusterNamespace"])
    assert vcs.condition(vc, conditions.SERVICE_RANGE_READY)["status"] == "True"

    # A tenant Service, brought down with the address the tenant was given.
    body = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
    }
    async with kube_client.Client(await vcs.tenant_access(api, namespace, "cidr")) as tenant:
        tenant_service = await tenant.create(resources.SERVICES.path("default"), body)
    super_namespace = naming.tenant_namespace(
        namespace, "cidr", created["metadata"]["uid"], "default"
    )
    twin = await vcs.wait_present(api, resources.SERVICES.path(super_namespace, "web"))
    address = tenant_service["spec"]["clusterIP"]
    assert twin["spec"]["clusterIP"] == address
    assert ipaddress.ip_address(address) in ipaddress.ip_network(service_range)

    await api.delete(held_path)

    async def reported() -> KubeObject | None:
        now = await vcs.read_vc(api, namespace, "cidr")
        ready = vcs.condition(now, conditions.SERVICE_RANGE_READY)
        return now if ready["status"] == "False" else None

    reporting = await wait.until(
        reported, timeout=NOTICED_WITHIN, what="ServiceRangeReady to turn False"
    )
    held = await api.get(held_path)
    twin_now = await api.get(resources.SERVICES.path(super_namespace, "web"))

    ready = vcs.condition(reporting, conditions.SERVICE_RANGE_READY)
    assert ready["reason"] == "ServiceCIDRDeleting"
    assert "deleted by hand" in ready["message"]
    # Kept by the super-cluster, not replaced by the operator: the same range, still held.
    assert held["metadata"].get("deletionTimestamp")
    assert held["spec"]["cidrs"] == [service_range]
    assert reporting["status"]["serviceCIDR"] == service_range
    assert reporting["status"]["phase"] == "Running"
    assert twin_now["metadata"]["uid"] == twin["metadata"]["uid"]
    assert twin_now["spec"]["clusterIP"] == address

    await api.delete(atoll_api.VIRTUALCLUSTERS.path(namespace, "cidr"))

    assert await vcs.wait_gone(api, atoll_api.VIRTUALCLUSTERS.path(namespace, "cidr"))
    assert await vcs.wait_gone(api, held_path)
