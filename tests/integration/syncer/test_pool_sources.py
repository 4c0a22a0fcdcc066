"""Where pools come from: OpenYurt's NodePool API when served, any label key by configuration."""

from __future__ import annotations

import pathlib

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.local import cluster
from support import cluster as support_cluster
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

NODEPOOL_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "nodepools.apps.openyurt.io"},
    "spec": {
        "group": "apps.openyurt.io",
        "scope": "Cluster",
        "names": {"kind": "NodePool", "plural": "nodepools", "singular": "nodepool"},
        "versions": [
            {
                "name": "v1beta2",
                "served": True,
                "storage": True,
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}
NODEPOOLS = resources.Resource(
    "apps.openyurt.io", "v1beta2", "nodepools", namespaced=False, kind="NodePool"
)


def autonomy_toleration(pod: kube_client.KubeObject) -> dict[str, object] | None:
    """atoll's toleration (24 h by default): the super-cluster's admission adds a 300 s one
    to every pod, so only the longer one shows the pool was taken for an edge pool."""
    return next(
        (
            item
            for item in pod["spec"].get("tolerations") or []
            if item.get("key") == "node.kubernetes.io/unreachable"
            and item.get("tolerationSeconds") != 300
        ),
        None,
    )


async def test_nodepool_api_decides_which_pools_are_edge(api: kube_client.Client) -> None:
    await api.create(resources.CRDS.path(), NODEPOOL_CRD)
    try:
        await wait.until(lambda: _served(api), timeout=60, what="the NodePool API")
        # The label says cloud is a cloud pool; OpenYurt's NodePool says it is an edge one.
        await api.create(
            NODEPOOLS.path(),
            {
                "apiVersion": "apps.openyurt.io/v1beta2",
                "kind": "NodePool",
                "metadata": {"name": "cloud"},
                "spec": {"type": "Edge"},
            },
        )
        pair = await tenants.running_tenant(api, "typed", {"nodePools": [{"name": "cloud"}]})
        async with pair.api:
            attempt = 0

            async def tolerated_pod() -> kube_client.KubeObject | None:
                nonlocal attempt
                attempt += 1
                name = f"probe-{attempt}"
                await pair.api.create(resources.PODS.path("default"), tenants.pod(name))
                super_path = resources.PODS.path(pair.super_namespace("default"), name)
                super_pod = await wait.until(
                    lambda: _get(api, super_path), timeout=60, what="the super pod"
                )
                return super_pod if autonomy_toleration(super_pod) else None

            # The syncer re-reads NodePools periodically: new pods pick the change up.
            super_pod = await wait.until(
                tolerated_pod, timeout=90, interval=3, what="a pod placed as on an edge pool"
            )
        assert autonomy_toleration(super_pod) == {
            "key": "node.kubernetes.io/unreachable",
            "operator": "Exists",
            "effect": "NoExecute",
            "tolerationSeconds": 86400,
        }
    finally:
        await api.delete(resources.CRDS.path(name="nodepools.apps.openyurt.io"))


async def test_kubeedge_label_key_works_by_configuration(tmp_path: pathlib.Path) -> None:
    label = "apps.kubeedge.io/belonging-to"
    started = support_cluster.start_cluster(
        tmp_path / "kubeedge", pools="hub:1:cloud,site-a:1", pool_label=label
    )
    try:
        async with kube_client.Client(started.access) as api:
            pair = await tenants.running_tenant(api, "edgy", {"nodePools": [{"name": "site-a"}]})
            async with pair.api:
                await pair.api.create(resources.PODS.path("default"), tenants.pod("placed"))
                placed = await tenants.wait_for_pod(pair.api, "default", "placed")
            node = await api.get(resources.NODES.path(name=placed["spec"]["nodeName"]))
        assert node["metadata"]["labels"][label] == "site-a"
    finally:
        cluster.down(started.folder)


async def _served(api: kube_client.Client) -> bool:
    try:
        await api.get(NODEPOOLS.path())
    except (errors.NotFound, errors.TooManyRequests):  # a new CRD's storage starts up
        return False
    return True


async def _get(api: kube_client.Client, path: str) -> kube_client.KubeObject | None:
    try:
        return await api.get(path)
    except errors.NotFound:
        return None
