"""Tenant objects flow down to the super-cluster; status, addresses and nodes flow back up."""

from __future__ import annotations

import base64
import datetime

import pytest

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import mapping
from support import downward, tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

POOL_LABEL = "apps.openyurt.io/nodepool"


async def test_deployment_runs_on_the_super_cluster_and_shows_running_in_the_tenant(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }
    await tenant_a.api.create(resources.DEPLOYMENTS.path("default"), deployment)
    super_namespace = tenant_a.super_namespace("default")

    async def all_running() -> list[kube_client.KubeObject] | None:
        listing = await tenant_a.api.get(
            resources.PODS.path("default"), params={"labelSelector": "app=web"}
        )
        pods = listing["items"]
        running = [item for item in pods if item.get("status", {}).get("phase") == "Running"]
        return pods if len(pods) == 3 and len(running) == 3 else None

    tenant_pods = await wait.until(all_running, timeout=120, what="3 tenant pods Running")
    super_pods = (
        await api.get(resources.PODS.path(super_namespace), params={"labelSelector": "app=web"})
    )["items"]
    tenant_nodes = (await tenant_a.api.get(resources.NODES.path()))["items"]

    assert sorted(item["metadata"]["name"] for item in super_pods) == sorted(
        item["metadata"]["name"] for item in tenant_pods
    )
    for tenant_pod in tenant_pods:
        twin = next(
            item
            for item in super_pods
            if item["metadata"]["name"] == tenant_pod["metadata"]["name"]
        )
        assert tenant_pod["spec"]["nodeName"] == twin["spec"]["nodeName"]
        assert tenant_pod["status"]["podIP"] == twin["status"]["podIP"]
        assert twin["metadata"]["annotations"][mapping.TENANT_UID] == tenant_pod["metadata"]["uid"]
    # Placement: only the granted pools; the tenant sees exactly the nodes it uses.
    used = {item["spec"]["nodeName"] for item in super_pods}
    assert {node["metadata"]["name"] for node in tenant_nodes} >= used
    for node in tenant_nodes:
        assert node["metadata"]["labels"][POOL_LABEL] in {"edge-a", "cloud"}
        ready = [item for item in node["status"]["conditions"] if item["type"] == "Ready"]
        assert ready[0]["status"] == "True"


async def test_selectorless_service_brings_its_endpoints_down(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("external")
    await tenant_a.api.create(
        resources.SERVICES.path("default"),
        {"metadata": {"name": name}, "spec": {"ports": [{"port": 5432}]}},
    )
    # A documentation address (RFC 5737): stored as data, never dialled.
    await tenant_a.api.create(
        resources.ENDPOINTS.path("default"),
        {
            "metadata": {"name": name},
            "subsets": [{"addresses": [{"ip": "192.0.2.9"}], "ports": [{"port": 5432}]}],
        },
    )
    super_path = resources.ENDPOINTS.path(tenant_a.super_namespace("default"), name)

    async def mirrored() -> dict[str, object] | None:
        try:
            return await api.get(super_path)
        except errors.NotFound:
            return None

    endpoints = await wait.until(mirrored, timeout=60, what="super Endpoints")
    assert endpoints["subsets"][0]["addresses"][0]["ip"] == "192.0.2.9"  # type: ignore[index]


async def test_pod_mounting_configmap_and_secret_runs(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("mounts")
    await tenant_a.api.create(
        resources.CONFIGMAPS.path("default"),
        {"metadata": {"name": name}, "data": {"colour": "blue"}},
    )
    await tenant_a.api.create(
        resources.SECRETS.path("default"),
        {"metadata": {"name": name}, "stringData": {"password": "s3"}},
    )
    await tenant_a.api.create(
        resources.PODS.path("default"),
        tenants.pod(
            name,
            volumes=[
                {"name": "config", "configMap": {"name": name}},
                {"name": "secret", "secret": {"secretName": name}},
            ],
        ),
    )

    await tenants.wait_for_pod(tenant_a.api, "default", name)
    super_namespace = tenant_a.super_namespace("default")
    config_map = await api.get(resources.CONFIGMAPS.path(super_namespace, name))
    secret = await api.get(resources.SECRETS.path(super_namespace, name))

    assert config_map["data"] == {"colour": "blue"}
    assert base64.b64decode(secret["data"]["password"]) == b"s3"


async def test_the_downward_api_of_a_pod_names_its_tenant_namespace_and_uid(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("downward")
    paths = ("namespace", "uid", "name")
    items = [{"path": path, "fieldRef": {"fieldPath": f"metadata.{path}"}} for path in paths]
    variables = [
        {"name": path.upper(), "valueFrom": {"fieldRef": {"fieldPath": f"metadata.{path}"}}}
        for path in paths
    ]
    body = tenants.pod(name, volumes=[{"name": "info", "downwardAPI": {"items": items}}])
    body["spec"]["containers"][0]["env"] = variables
    created = await tenant_a.api.create(resources.PODS.path("default"), body)

    # Running in the tenant: the super API server took the pod with its rewritten fields.
    await tenants.wait_for_pod(tenant_a.api, "default", name)
    super_pod = await api.get(resources.PODS.path(tenant_a.super_namespace("default"), name))

    (volume,) = [item for item in super_pod["spec"]["volumes"] if item["name"] == "info"]
    files = {
        item["path"]: downward.resolve(super_pod, item["fieldRef"]["fieldPath"])
        for item in volume["downwardAPI"]["items"]
    }
    values = {
        item["name"].lower(): downward.resolve(
            super_pod, item["valueFrom"]["fieldRef"]["fieldPath"]
        )
        for item in super_pod["spec"]["containers"][0]["env"]
        if "valueFrom" in item
    }
    expected = {"namespace": "default", "uid": created["metadata"]["uid"], "name": name}
    assert files == expected
    assert values == expected


async def test_the_super_schedulers_event_shows_on_the_tenant_pod(
    tenant_a: tenants.TenantPair,
) -> None:
    name = tenants.unique("events")
    await tenant_a.api.create(resources.PODS.path("default"), tenants.pod(name))
    tenant_pod = await tenants.wait_for_pod(tenant_a.api, "default", name)

    async def scheduled() -> kube_client.KubeObject | None:
        listing = await tenant_a.api.get(
            resources.EVENTS.path("default"),
            params={"fieldSelector": f"involvedObject.name={name}"},
        )
        found = [item for item in listing["items"] if item.get("reason") == "Scheduled"]
        return found[0] if found else None

    event = await wait.until(scheduled, timeout=60, what=f"Scheduled event of pod {name}")
    super_namespace = tenant_a.super_namespace("default")

    assert event["involvedObject"]["uid"] == tenant_pod["metadata"]["uid"]
    assert event["involvedObject"]["namespace"] == "default"
    assert super_namespace not in str(event)
    assert event["message"].endswith(f"default/{name} to {tenant_pod['spec']['nodeName']}")


async def test_pod_token_is_valid_on_the_tenant_api_only(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("token")
    await tenant_a.api.create(resources.PODS.path("default"), tenants.pod(name))
    await tenants.wait_for_pod(tenant_a.api, "default", name)
    super_namespace = tenant_a.super_namespace("default")

    super_pod = await api.get(resources.PODS.path(super_namespace, name))
    sources = [
        source
        for volume in super_pod["spec"]["volumes"]
        for source in (volume.get("projected") or {}).get("sources") or []
    ]
    secret_name = next(source["secret"]["name"] for source in sources if "secret" in source)
    secret = await api.get(resources.SECRETS.path(super_namespace, secret_name))
    token = base64.b64decode(secret["data"]["token"]).decode()
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}

    tenant_access = tenant_a.api.access
    as_pod = type(tenant_access)(
        server=tenant_access.server, ca_pem=tenant_access.ca_pem, token=token
    )
    async with kube_client.Client(as_pod) as client:
        me = await client.create("/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
    as_pod_on_super = type(tenant_access)(
        server=api.access.server, ca_pem=api.access.ca_pem, token=token
    )
    async with kube_client.Client(as_pod_on_super) as client:
        with pytest.raises(errors.Unauthorized):
            await client.create("/apis/authentication.k8s.io/v1/selfsubjectreviews", review)

    assert super_pod["spec"]["automountServiceAccountToken"] is False
    assert me["status"]["userInfo"]["username"] == "system:serviceaccount:default:default"
    env = {item["name"]: item.get("value") for item in super_pod["spec"]["containers"][0]["env"]}
    assert env["KUBERNETES_SERVICE_HOST"] == "127.0.0.1"


async def test_deleting_in_the_tenant_cascades_to_the_super_cluster(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    namespace = tenants.unique("doomed")
    await tenant_a.api.create(resources.NAMESPACES.path(), {"metadata": {"name": namespace}})
    await tenant_a.api.create(resources.PODS.path(namespace), tenants.pod("victim"))
    await tenant_a.api.create(
        resources.CONFIGMAPS.path(namespace), {"metadata": {"name": "victim"}}
    )
    await tenants.wait_for_pod(tenant_a.api, namespace, "victim")
    super_namespace = tenant_a.super_namespace(namespace)

    await tenant_a.api.delete(resources.PODS.path(namespace, "victim"))
    assert await tenants.wait_until_missing(tenant_a.api, resources.PODS.path(namespace, "victim"))
    assert await tenants.wait_until_missing(api, resources.PODS.path(super_namespace, "victim"))

    await tenant_a.api.delete(resources.NAMESPACES.path(name=namespace))
    assert await tenants.wait_until_missing(
        api, resources.NAMESPACES.path(name=super_namespace), timeout=120
    )


async def test_pod_annotations_follow_the_tenant_and_leave_super_side_ones_alone(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("annotated")
    body = tenants.pod(name)
    body["metadata"]["annotations"] = {"team": "shop", "owner": "ana"}
    await tenant_a.api.create(resources.PODS.path("default"), body)
    await tenants.wait_for_pod(tenant_a.api, "default", name)
    super_path = resources.PODS.path(tenant_a.super_namespace("default"), name)
    # What a super-side component (a network plugin, say) writes on the pod.
    await api.patch(super_path, {"metadata": {"annotations": {"cni.example/ip": "10.1.2.3"}}})

    await tenant_a.api.patch(
        resources.PODS.path("default", name),
        {"metadata": {"annotations": {"team": None, "owner": "bo"}}},
    )

    async def followed() -> dict[str, str] | None:
        annotations: dict[str, str] = (await api.get(super_path))["metadata"]["annotations"]
        done = "team" not in annotations and annotations.get("owner") == "bo"
        return annotations if done else None

    annotations = await wait.until(followed, timeout=60, what="the super pod's annotations")
    assert annotations["cni.example/ip"] == "10.1.2.3"


async def test_super_object_not_owned_is_never_touched(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("squatted")
    super_namespace = tenant_a.super_namespace("default")
    squatter = await api.create(
        resources.CONFIGMAPS.path(super_namespace),
        {"metadata": {"name": name}, "data": {"owner": "admin"}},
    )

    created = await tenant_a.api.create(
        resources.CONFIGMAPS.path("default"),
        {"metadata": {"name": name}, "data": {"owner": "tenant"}},
    )

    async def told() -> bool:
        events = await tenant_a.api.get(resources.EVENTS.path("default"))
        return any(
            item["reason"] == "SuperConflict"
            and item["involvedObject"]["uid"] == created["metadata"]["uid"]
            for item in events["items"]
        )

    assert await wait.until(told, timeout=60, what="a SuperConflict event")
    await tenant_a.api.delete(resources.CONFIGMAPS.path("default", name))
    untouched = await api.get(resources.CONFIGMAPS.path(super_namespace, name))
    assert untouched["data"] == {"owner": "admin"}
    assert untouched["metadata"]["uid"] == squatter["metadata"]["uid"]


async def test_one_tenant_never_sees_another(
    tenant_a: tenants.TenantPair, tenant_b: tenants.TenantPair
) -> None:
    name = tenants.unique("private")
    await tenant_a.api.create(resources.NAMESPACES.path(), {"metadata": {"name": name}})
    await tenant_a.api.create(resources.PODS.path(name), tenants.pod("secretive"))
    await tenants.wait_for_pod(tenant_a.api, name, "secretive")

    b_namespaces = (await tenant_b.api.get(resources.NAMESPACES.path()))["items"]
    b_pods = (await tenant_b.api.get(resources.PODS.path()))["items"]

    assert name not in {item["metadata"]["name"] for item in b_namespaces}
    assert "secretive" not in {item["metadata"]["name"] for item in b_pods}
    assert tenant_a.super_namespace(name) != tenant_b.super_namespace(name)


async def test_a_virtual_node_follows_its_super_nodes_labels_both_ways(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("labelled")
    await tenant_a.api.create(resources.PODS.path("default"), tenants.pod(name))
    node_name = (await tenants.wait_for_pod(tenant_a.api, "default", name))["spec"]["nodeName"]
    label = "example.com/rack"
    super_node_path = resources.NODES.path(name=node_name)

    async def tenant_label() -> str | None:
        node = await tenant_a.api.get(resources.NODES.path(name=node_name))
        return (node["metadata"].get("labels") or {}).get(label)

    await api.patch(super_node_path, {"metadata": {"labels": {label: "r7"}}})
    try:

        async def shown() -> bool:
            return await tenant_label() == "r7"

        await wait.until(shown, timeout=60, what=f"{label} on virtual node {node_name}")
    finally:
        await api.patch(super_node_path, {"metadata": {"labels": {label: None}}})

    async def removed() -> bool:
        return await tenant_label() is None

    await wait.until(removed, timeout=60, what=f"{label} gone from virtual node {node_name}")


async def test_a_virtual_nodes_lease_keeps_up_with_its_super_nodes(
    api: kube_client.Client, tenant_a: tenants.TenantPair
) -> None:
    name = tenants.unique("heartbeat")
    await tenant_a.api.create(resources.PODS.path("default"), tenants.pod(name))
    node_name = (await tenants.wait_for_pod(tenant_a.api, "default", name))["spec"]["nodeName"]
    lease_path = resources.LEASES.path("kube-node-lease", node_name)

    async def tenant_lease() -> kube_client.KubeObject | None:
        try:
            return await tenant_a.api.get(lease_path)
        except errors.NotFound:
            return None

    first = await wait.until(tenant_lease, timeout=60, what=f"the Lease of {node_name}")

    async def renewed() -> kube_client.KubeObject | None:
        current = await tenant_lease()
        later = current and current["spec"]["renewTime"] > first["spec"]["renewTime"]
        return current if later else None

    # The simulated kubelet renews every 10 s; the copy may lag half the 40 s duration.
    again = await wait.until(renewed, timeout=45, what=f"the Lease of {node_name} renewed")
    super_lease = await api.get(lease_path)

    assert again["spec"]["holderIdentity"] == super_lease["spec"]["holderIdentity"]
    assert again["spec"]["leaseDurationSeconds"] == super_lease["spec"]["leaseDurationSeconds"]
    # Behind by at most half the duration plus one renewal: valid while the super one is.
    lag = _moment(super_lease["spec"]["renewTime"]) - _moment(again["spec"]["renewTime"])
    assert 0 <= lag.total_seconds() < super_lease["spec"]["leaseDurationSeconds"]


def _moment(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
