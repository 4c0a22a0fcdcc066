"""Dedicated pools: one VirtualCluster's, tainted for it, closed to every other tenant."""

from __future__ import annotations

import contextlib

import pytest

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer.pods import placement
from support import tenants, vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]
POOL_LABEL = "apps.openyurt.io/nodepool"


async def test_dedicated_pool_serves_its_owner_and_refuses_everyone_else(
    api: kube_client.Client,
) -> None:
    owner = await tenants.running_tenant(
        api, "owner", {"nodePools": [{"name": "cloud", "dedicated": True}]}
    )
    try:
        intruder = await tenants.running_tenant(
            api, "intruder", {"nodePools": [{"name": "cloud"}, {"name": "edge-a"}]}
        )
        async with owner.api, intruder.api:
            # The owner's nodes carry its taint; its pod runs there.
            cloud_nodes = await api.get(
                resources.NODES.path(), params={"labelSelector": f"{POOL_LABEL}=cloud"}
            )
            for node in cloud_nodes["items"]:
                assert {
                    "key": placement.DEDICATED_TAINT_KEY,
                    "value": owner.tenant.vc_uid,
                    "effect": "NoSchedule",
                } in node["spec"]["taints"]
            await owner.api.create(resources.PODS.path("default"), tenants.pod("mine"))
            mine = await tenants.wait_for_pod(owner.api, "default", "mine")
            assert mine["spec"]["nodeName"].startswith("cloud-")

            # Another tenant that forges the toleration is refused and told why.
            forged = tenants.pod(
                "sneaky",
                nodeSelector={POOL_LABEL: "cloud"},
                tolerations=[{"key": placement.DEDICATED_TAINT_KEY, "operator": "Exists"}],
            )
            await intruder.api.create(resources.PODS.path("default"), forged)

            async def refused() -> bool:
                current = await intruder.api.get(resources.PODS.path("default", "sneaky"))
                return any(
                    item.get("reason") == "PlacementRefused"
                    for item in current.get("status", {}).get("conditions") or []
                )

            assert await wait.until(refused, timeout=60, what="the forged pod to be refused")
            super_pods = (await api.get(resources.PODS.path(intruder.super_namespace("default"))))[
                "items"
            ]
            assert "sneaky" not in {item["metadata"]["name"] for item in super_pods}

            # Its ordinary pods land on its other pool, never on the dedicated one.
            await intruder.api.create(resources.PODS.path("default"), tenants.pod("plain"))
            plain = await tenants.wait_for_pod(intruder.api, "default", "plain")
            assert plain["spec"]["nodeName"].startswith("edge-a-")

        # A second claim on the same dedicated pool fails with the reason.
        namespace = owner.tenant.vc_namespace
        await vcs.create_vc(
            api, namespace, "claimant", {"nodePools": [{"name": "cloud", "dedicated": True}]}
        )
        failed = await vcs.wait_phase(api, namespace, "claimant", "Failed")
        assert vcs.condition(failed, "Ready")["reason"] == "DedicatedPoolTaken"
        # The later claim never costs the holder its pool.
        holder = await vcs.read_vc(api, namespace, "owner")
        assert holder["status"]["phase"] == "Running"
    finally:
        for name in ("claimant", "owner"):
            with contextlib.suppress(errors.NotFound):
                await api.delete(atoll_api.VIRTUALCLUSTERS.path(owner.tenant.vc_namespace, name))
        await vcs.wait_gone(api, atoll_api.VIRTUALCLUSTERS.path(owner.tenant.vc_namespace, "owner"))

    # Deleting the owner releases its nodes.
    cloud_nodes = await api.get(
        resources.NODES.path(), params={"labelSelector": f"{POOL_LABEL}=cloud"}
    )
    for node in cloud_nodes["items"]:
        assert all(
            taint.get("key") != placement.DEDICATED_TAINT_KEY
            for taint in node["spec"].get("taints") or []
        )
