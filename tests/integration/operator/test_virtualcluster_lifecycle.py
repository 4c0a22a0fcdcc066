"""VirtualClusters from creation to deletion, on the real super-cluster with real tenants."""

from __future__ import annotations

import ipaddress
import os
import signal

import pytest

from atoll.core import api as atoll_api
from atoll.core import naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.operator import service_ranges
from support import cluster as support_cluster
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]


async def test_empty_spec_runs_and_its_kubeconfig_works(
    api: kube_client.Client, namespace: str
) -> None:
    created = await vcs.create_vc(api, namespace, "alpha")

    vc = await vcs.wait_phase(api, namespace, "alpha", "Running")
    async with kube_client.Client(await vcs.tenant_access(api, namespace, "alpha")) as tenant:
        tenant_namespaces = await tenant.get(resources.NAMESPACES.path())

    status = vc["status"]
    assert {item["metadata"]["name"] for item in tenant_namespaces["items"]} >= {
        "default",
        "kube-system",
    }
    assert status["version"] == "v1.37.2"
    assert status["provisioner"] == "process"
    assert status["kubeconfigSecretRef"] == {"name": "alpha-kubeconfig", "key": "value"}
    assert status["clusterNamespace"] == naming.cluster_root(
        namespace, "alpha", created["metadata"]["uid"]
    )
    ready = vcs.condition(vc, "Ready")
    assert (ready["status"], ready["observedGeneration"]) == ("True", 1)
    # The schema filled in the defaults.
    assert vc["spec"]["controlPlane"]["datastore"] == {
        "type": "etcd",
        "mode": "dedicated",
        "storage": {"size": "1Gi"},
    }


async def test_two_virtual_clusters_are_isolated(api: kube_client.Client, namespace: str) -> None:
    await vcs.create_vc(api, namespace, "left")
    await vcs.create_vc(
        api,
        namespace,
        "right",
        {"controlPlane": {"datastore": {"type": "kine", "mode": "dedicated"}}},
    )
    left_vc = await vcs.wait_phase(api, namespace, "left", "Running")
    right_vc = await vcs.wait_phase(api, namespace, "right", "Running")
    left = await vcs.tenant_access(api, namespace, "left")
    right = await vcs.tenant_access(api, namespace, "right")

    async with kube_client.Client(left) as tenant:
        await tenant.create(resources.NAMESPACES.path(), {"metadata": {"name": "only-left"}})
    # Left's certificate presented to right's API server, trusting right's CA.
    intruder = type(left)(
        server=right.server,
        ca_pem=right.ca_pem,
        client_cert_pem=left.client_cert_pem,
        client_key_pem=left.client_key_pem,
    )
    async with kube_client.Client(intruder) as tenant:
        with pytest.raises(errors.Unauthorized):
            await tenant.get(resources.NAMESPACES.path())
    async with kube_client.Client(right) as tenant:
        right_namespaces = await tenant.get(resources.NAMESPACES.path())

    assert left.ca_pem != right.ca_pem
    assert "only-left" not in {item["metadata"]["name"] for item in right_namespaces["items"]}

    # Each has a slice of service addresses of its own, which the super-cluster serves.
    pool = ipaddress.ip_network(service_ranges.DEFAULT_POOL)
    ranges = []
    for vc in (left_vc, right_vc):
        held_path = service_ranges.SERVICE_CIDRS.path(name=vc["status"]["clusterNamespace"])
        held = await api.get(held_path)
        assert held["spec"]["cidrs"] == [vc["status"]["serviceCIDR"]]
        assert held["metadata"]["labels"][naming.VC_UID] == vc["metadata"]["uid"]
        ranges.append(ipaddress.ip_network(vc["status"]["serviceCIDR"]))
    assert not ranges[0].overlaps(ranges[1])
    assert all(network.subnet_of(pool) for network in ranges)  # type: ignore[arg-type]


async def test_pause_stops_the_control_plane_and_resume_keeps_its_data(
    api: kube_client.Client, namespace: str
) -> None:
    created = await vcs.create_vc(api, namespace, "sleeper")
    path = atoll_api.VIRTUALCLUSTERS.path(namespace, "sleeper")
    await vcs.wait_phase(api, namespace, "sleeper", "Running")
    access = await vcs.tenant_access(api, namespace, "sleeper")
    async with kube_client.Client(access) as tenant:
        await tenant.create(
            resources.CONFIGMAPS.path("default"),
            {"metadata": {"name": "before-pause"}, "data": {"kept": "yes"}},
        )

    await api.patch(path, {"spec": {"paused": True}})
    paused = await vcs.wait_phase(api, namespace, "sleeper", "Paused")
    assert vcs.tenant_processes(created["metadata"]["uid"]) == []
    assert vcs.condition(paused, "Ready")["reason"] == "Paused"

    await api.patch(path, {"spec": {"paused": False}})
    await vcs.wait_phase(api, namespace, "sleeper", "Running")
    async with kube_client.Client(access) as tenant:
        kept = await tenant.get(resources.CONFIGMAPS.path("default", "before-pause"))
    assert kept["data"] == {"kept": "yes"}


async def test_delete_leaves_no_process_file_secret_or_namespace(
    api: kube_client.Client, namespace: str, super_cluster: support_cluster.SuperCluster
) -> None:
    created = await vcs.create_vc(api, namespace, "doomed")
    uid = created["metadata"]["uid"]
    vc = await vcs.wait_phase(api, namespace, "doomed", "Running")
    cluster_namespace = vc["status"]["clusterNamespace"]
    folder = super_cluster.folder.root / "vc" / uid
    assert folder.is_dir()
    assert vcs.tenant_processes(uid)

    await api.delete(atoll_api.VIRTUALCLUSTERS.path(namespace, "doomed"))

    assert await vcs.wait_gone(api, atoll_api.VIRTUALCLUSTERS.path(namespace, "doomed"))
    assert vcs.tenant_processes(uid) == []
    assert not folder.exists()
    with pytest.raises(errors.NotFound):
        await api.get(resources.NAMESPACES.path(name=cluster_namespace))
    with pytest.raises(errors.NotFound):
        await api.get(resources.SECRETS.path(namespace, "doomed-kubeconfig"))
    # Its slice of service addresses goes once the super-cluster has released the last one.
    assert await vcs.wait_gone(api, service_ranges.SERVICE_CIDRS.path(name=cluster_namespace))


async def test_retain_keeps_the_data_folder(
    api: kube_client.Client, namespace: str, super_cluster: support_cluster.SuperCluster
) -> None:
    created = await vcs.create_vc(api, namespace, "keeper", {"deletionPolicy": "Retain"})
    await vcs.wait_phase(api, namespace, "keeper", "Running")
    folder = super_cluster.folder.root / "vc" / created["metadata"]["uid"]

    await api.delete(atoll_api.VIRTUALCLUSTERS.path(namespace, "keeper"))

    assert await vcs.wait_gone(api, atoll_api.VIRTUALCLUSTERS.path(namespace, "keeper"))
    assert vcs.tenant_processes(created["metadata"]["uid"]) == []
    assert (folder / "etcd").is_dir()
    assert (folder / "pki" / "ca.crt").is_file()
    kept = await api.get(
        resources.NAMESPACES.path(
            name=naming.cluster_root(namespace, "keeper", created["metadata"]["uid"])
        )
    )
    assert kept["metadata"]["labels"][naming.RETAINED] == "true"
    # Retained data keeps no claim on service addresses.
    root = kept["metadata"]["name"]
    assert await vcs.wait_gone(api, service_ranges.SERVICE_CIDRS.path(name=root))


async def test_operator_killed_mid_provisioning_converges_without_duplicates(
    api: kube_client.Client, namespace: str, super_cluster: support_cluster.SuperCluster
) -> None:
    operator_pid = super_cluster.pid("atoll-operator")

    created = await vcs.create_vc(api, namespace, "phoenix")
    await wait.until(
        lambda: _phase_is(api, namespace, "phoenix", {"Provisioning", "Running"}),
        timeout=60,
        what="provisioning to start",
    )
    os.kill(operator_pid, signal.SIGKILL)

    # The supervisor restarts the operator, which resumes the VirtualCluster.
    await wait.until(
        lambda: _new_operator(super_cluster, operator_pid),
        timeout=60,
        what="the operator to be restarted",
    )
    vc = await vcs.wait_phase(api, namespace, "phoenix", "Running")
    secrets = await api.get(resources.SECRETS.path(vc["status"]["clusterNamespace"]))

    assert sorted(item["metadata"]["name"] for item in secrets["items"]) == [
        "atoll-ca",
        "atoll-certs",
    ]
    assert len(vcs.tenant_processes(created["metadata"]["uid"])) == 3
    async with kube_client.Client(await vcs.tenant_access(api, namespace, "phoenix")) as tenant:
        assert (await tenant.version())["gitVersion"] == "v1.37.2"


async def _phase_is(api: kube_client.Client, namespace: str, name: str, phases: set[str]) -> bool:
    return ((await vcs.read_vc(api, namespace, name)).get("status") or {}).get("phase") in phases


async def _new_operator(super_cluster: support_cluster.SuperCluster, old_pid: int) -> bool:
    status = super_cluster.folder.read_status()
    return (
        status is not None
        and status.phase == "ready"
        and status.pids.get("atoll-operator") not in (None, old_pid)
    )
