"""Every file in examples/ applies and reaches the state it promises."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import resources
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "examples"


def example(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((EXAMPLES / name).read_text()) if doc]


async def test_every_example_is_covered_here() -> None:
    covered = {
        "minimal.yaml",
        "edge.yaml",
        "in-cluster.yaml",
        "clusterversion.yaml",
        "tenant-workload.yaml",
    }

    assert {path.name for path in EXAMPLES.glob("*.yaml")} == covered


@pytest.mark.parametrize(
    ("file_name", "phase"),
    [
        ("minimal.yaml", "Running"),
        ("edge.yaml", "Running"),
        # Workloads on simulated nodes, a simulated volume and load balancer.
        ("in-cluster.yaml", "Running"),
    ],
)
async def test_virtual_cluster_example_reaches_its_phase(
    api: kube_client.Client, namespace: str, file_name: str, phase: str
) -> None:
    (vc,) = example(file_name)
    vc["metadata"]["namespace"] = namespace

    await api.create(atoll_api.VIRTUALCLUSTERS.path(namespace), vc)

    reached = await vcs.wait_phase(api, namespace, vc["metadata"]["name"], phase)
    assert vcs.condition(reached, "Ready")["status"] == "True"


async def test_cluster_version_example_serves_a_virtual_cluster(
    api: kube_client.Client, namespace: str
) -> None:
    (version,) = example("clusterversion.yaml")
    name = version["metadata"]["name"]
    await api.create(atoll_api.CLUSTERVERSIONS.path(), version)
    try:
        await vcs.create_vc(api, namespace, "audited", {"clusterVersion": name})
        vc = await vcs.wait_phase(api, namespace, "audited", "Running")
    finally:
        await api.delete(atoll_api.CLUSTERVERSIONS.path(name=name))

    assert vc["status"]["version"] == version["spec"]["kubernetesVersion"]


async def test_tenant_workload_example_is_taken_up_by_the_tenant(
    api: kube_client.Client, namespace: str
) -> None:
    await vcs.create_vc(api, namespace, "workshop")
    await vcs.wait_phase(api, namespace, "workshop", "Running")
    by_kind = {"Deployment": resources.DEPLOYMENTS, "Service": resources.SERVICES}

    async with kube_client.Client(await vcs.tenant_access(api, namespace, "workshop")) as tenant:
        for obj in example("tenant-workload.yaml"):
            await tenant.create(by_kind[obj["kind"]].path(obj["metadata"]["namespace"]), obj)

        # The tenant's own controller-manager turns the Deployment into its pods.
        async def three_pods() -> bool:
            listing = await tenant.get(
                resources.PODS.path("default"), params={"labelSelector": "app=web"}
            )
            return len(listing["items"]) == 3

        assert await wait.until(three_pods, timeout=60, what="the Deployment's 3 pods")
        service = await tenant.get(resources.SERVICES.path("default", "web"))
    assert service["spec"]["clusterIP"]
