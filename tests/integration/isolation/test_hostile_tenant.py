"""A hostile tenant gets nowhere: one test per way out, each against the real super-cluster.

Every tenant is the admin of its own cluster, so it may write anything the syncer copies. Each
test tries one escape, then checks two things: the super-cluster holds nothing that lets it
out (no super object, or one with the dangerous part gone), and, where the object is refused,
the tenant is told why with an Event (and, for pods, the `atoll.dev/Synced` condition) naming
the rule and the fix.
"""

from __future__ import annotations

from typing import Any

import pytest

from atoll.core import naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import isolation, kinds, mapping
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

KubeObject = kube_client.KubeObject
RUNTIME_CLASSES = resources.Resource(
    "node.k8s.io", "v1", "runtimeclasses", namespaced=False, kind="RuntimeClass"
)


async def refused(pair: tenants.TenantPair, name: str, reason: str) -> str:
    """Wait for the tenant Event that refuses `name` with `reason`; its message."""

    async def told() -> str | None:
        listing = await pair.api.get(resources.EVENTS.path("default"))
        for event in listing["items"]:
            if event["involvedObject"]["name"] == name and event["reason"] == reason:
                return str(event["message"])
        return None

    return await wait.until(told, timeout=60, what=f"a {reason} Event on {name}")


async def held_pod(pair: tenants.TenantPair, name: str, reason: str) -> str:
    """Wait until tenant pod `name` shows the Synced=False condition `reason`; its message."""

    async def shown() -> str | None:
        tenant_pod = await pair.api.get(resources.PODS.path("default", name))
        for item in (tenant_pod.get("status") or {}).get("conditions") or []:
            if item["type"] == "atoll.dev/Synced" and item.get("reason") == reason:
                return str(item["message"])
        return None

    message = await wait.until(shown, timeout=60, what=f"{reason} on pod {name}")
    assert message == await refused(pair, name, reason)
    return message


async def super_object(
    api: kube_client.Client, resource: resources.Resource, namespace: str | None, name: str
) -> KubeObject | None:
    try:
        return await api.get(resource.path(namespace, name))
    except errors.NotFound:
        return None


async def synced(
    api: kube_client.Client, resource: resources.Resource, namespace: str, name: str
) -> KubeObject:
    async def there() -> KubeObject | None:
        return await super_object(api, resource, namespace, name)

    return await wait.until(there, timeout=60, what=f"super {resource.kind} {namespace}/{name}")


async def refused_pod(
    api: kube_client.Client, pair: tenants.TenantPair, reason: str, **spec: Any
) -> str:
    """Create a pod with `spec`; assert it is held with `reason` and never reaches the super."""
    name = tenants.unique("escape")
    await pair.api.create(resources.PODS.path("default"), tenants.pod(name, **spec))
    message = await held_pod(pair, name, reason)
    assert await super_object(api, resources.PODS, pair.super_namespace("default"), name) is None
    return message


# --- pod security ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "rule"),
    [
        (
            {
                "containers": [
                    {"name": "main", "image": "busybox", "securityContext": {"privileged": True}}
                ]
            },
            "privileged",
        ),
        ({"hostNetwork": True}, "hostNetwork"),
        ({"hostPID": True}, "hostPID"),
        ({"hostIPC": True}, "hostIPC"),
        (
            {
                "containers": [{"name": "main", "image": "busybox"}],
                "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
            },
            "hostPath",
        ),
        (
            {
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "ports": [{"containerPort": 80, "hostPort": 80}],
                    }
                ]
            },
            "hostPort",
        ),
        (
            {
                "containers": [
                    {
                        "name": "main",
                        "image": "busybox",
                        "securityContext": {"capabilities": {"add": ["SYS_ADMIN"]}},
                    }
                ]
            },
            "SYS_ADMIN",
        ),
        (
            {"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "65536"}]}},
            "kernel.msgmax",
        ),
    ],
    ids=[
        "privileged",
        "host-network",
        "host-pid",
        "host-ipc",
        "host-path",
        "host-port",
        "capability",
        "unsafe-sysctl",
    ],
)
async def test_pods_beyond_the_security_level_are_held(
    api: kube_client.Client, hostile: tenants.TenantPair, spec: dict[str, Any], rule: str
) -> None:
    message = await refused_pod(api, hostile, "PodSecurity", **spec)

    assert rule in message
    assert "spec.isolation.podSecurity" in message


async def test_super_namespaces_carry_the_level_whatever_the_tenant_labels(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    namespace = tenants.unique("loud")
    await hostile.api.create(
        resources.NAMESPACES.path(),
        {
            "metadata": {
                "name": namespace,
                "labels": {
                    isolation.POD_SECURITY_ENFORCE: "privileged",
                    naming.VC_UID: "someone-else",
                    "kubernetes.io/metadata.name": "kube-system",
                },
            }
        },
    )
    super_namespace = await synced(
        api, resources.NAMESPACES, "", hostile.super_namespace(namespace)
    )

    labels = super_namespace["metadata"]["labels"]
    assert labels[isolation.POD_SECURITY_ENFORCE] == "baseline"
    assert labels[naming.VC_UID] == hostile.tenant.vc_uid
    assert labels["kubernetes.io/metadata.name"] == super_namespace["metadata"]["name"]


# --- no token for the super-cluster ---------------------------------------------------------


async def test_a_pod_never_mounts_a_super_cluster_token(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    name = tenants.unique("token")
    projected = {
        "name": "stolen",
        "projected": {
            "sources": [{"serviceAccountToken": {"path": "token", "audience": "kubernetes"}}]
        },
    }
    await hostile.api.create(
        resources.PODS.path("default"),
        tenants.pod(name, automountServiceAccountToken=True, volumes=[projected]),
    )
    super_pod = await synced(api, resources.PODS, hostile.super_namespace("default"), name)

    assert super_pod["spec"]["automountServiceAccountToken"] is False
    sources = [
        source
        for volume in super_pod["spec"].get("volumes") or []
        for source in (volume.get("projected") or {}).get("sources") or []
    ]
    assert not [source for source in sources if "serviceAccountToken" in source]


async def test_a_token_secret_is_never_filled_in_by_the_super_cluster(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    name = tenants.unique("legacy-token")
    await hostile.api.create(
        resources.SECRETS.path("default"),
        {
            "metadata": {
                "name": name,
                "annotations": {"kubernetes.io/service-account.name": "default"},
            },
            "type": "kubernetes.io/service-account-token",
        },
    )
    marker = tenants.unique("after")
    await hostile.api.create(resources.CONFIGMAPS.path("default"), {"metadata": {"name": marker}})
    super_namespace = hostile.super_namespace("default")
    await synced(api, resources.CONFIGMAPS, super_namespace, marker)

    assert await super_object(api, resources.SECRETS, super_namespace, name) is None


# --- classes, nodes and pools ---------------------------------------------------------------


async def test_priority_and_runtime_classes_must_be_granted(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    priority = await refused_pod(
        api, hostile, "ClassNotGranted", priorityClassName="system-node-critical"
    )
    # The tenant is admin of its own cluster: it may define any RuntimeClass there.
    await hostile.api.create(
        RUNTIME_CLASSES.path(),
        {"metadata": {"name": "unconfined"}, "handler": "unconfined"},
    )
    runtime = await refused_pod(api, hostile, "ClassNotGranted", runtimeClassName="unconfined")

    assert "allowedPriorityClasses" in priority
    assert "allowedRuntimeClasses" in runtime


async def test_a_node_outside_the_granted_pools_is_refused(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    nodes = (await api.get(resources.NODES.path()))["items"]
    elsewhere = next(
        node["metadata"]["name"]
        for node in nodes
        if node["metadata"]["labels"].get("apps.openyurt.io/nodepool") != "edge-b"
    )

    message = await refused_pod(api, hostile, "PlacementRefused", nodeName=elsewhere)

    assert "edge-b" in message


async def test_a_claim_on_an_ungranted_storage_class_is_refused(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    name = tenants.unique("claim")
    await hostile.api.create(
        resources.PVCS.path("default"),
        {
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": "admin-only",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )

    message = await refused(hostile, name, "ClassNotGranted")

    assert "admin-only" in message
    assert await super_object(api, resources.PVCS, hostile.super_namespace("default"), name) is None


async def test_a_claim_cannot_bind_to_a_volume_it_names(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    name = tenants.unique("bind")
    await hostile.api.create(
        resources.PVCS.path("default"),
        {
            "metadata": {"name": name},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "volumeName": "someone-elses-volume",
                "resources": {"requests": {"storage": "1Gi"}},
            },
        },
    )
    super_claim = await synced(api, resources.PVCS, hostile.super_namespace("default"), name)
    message = await refused(hostile, name, "VolumeNotFound")

    # Bound, if at all, to a volume the super-cluster provisioned for it.
    assert super_claim["spec"].get("volumeName") != "someone-elses-volume"
    # The tenant is told, and gets no copy of that volume: its binder would take the copy's
    # claim reference back, and a copy made again each time would never settle.
    assert "someone-elses-volume" in message
    tenant_volumes = (await hostile.api.get(resources.PVS.path()))["items"]
    assert [
        volume["metadata"]["name"]
        for volume in tenant_volumes
        if (volume["spec"].get("claimRef") or {}).get("name") == name
    ] == []
    claim = await hostile.api.get(resources.PVCS.path("default", name))
    assert claim["status"].get("phase") == "Pending"


async def test_a_service_cannot_capture_external_addresses(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    name = tenants.unique("capture")
    await hostile.api.create(
        resources.SERVICES.path("default"),
        {
            "metadata": {"name": name},
            "spec": {
                "selector": {"app": name},
                "ports": [{"port": 443}],
                "externalIPs": ["203.0.113.10"],
            },
        },
    )

    message = await refused(hostile, name, "NotAllowed")

    assert "externalIPs" in message
    super_namespace = hostile.super_namespace("default")
    assert await super_object(api, resources.SERVICES, super_namespace, name) is None


# --- quota ----------------------------------------------------------------------------------


async def test_services_beyond_the_cluster_quota_are_refused(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    super_namespace = hostile.super_namespace("default")
    names = [tenants.unique("svc") for _ in range(3)]
    for name in names[:2]:
        await hostile.api.create(
            resources.SERVICES.path("default"),
            {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}},
        )
        await synced(api, resources.SERVICES, super_namespace, name)
    await hostile.api.create(
        resources.SERVICES.path("default"),
        {"metadata": {"name": names[2]}, "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}},
    )

    message = await refused(hostile, names[2], "QuotaExceeded")

    # The tenant's own `kubernetes` Service counts too, as in a ResourceQuota.
    assert "services is 3" in message
    assert await super_object(api, resources.SERVICES, super_namespace, names[2]) is None


# --- names and ownership --------------------------------------------------------------------


async def test_ownership_labels_and_annotations_cannot_be_forged(
    api: kube_client.Client, hostile: tenants.TenantPair, victim: tenants.TenantPair
) -> None:
    name = tenants.unique("forged")
    forged = {
        naming.VC_UID: victim.tenant.vc_uid,
        naming.VC_NAME: victim.tenant.vc_name,
        mapping.ROLE: "tenant",
    }
    await hostile.api.create(
        resources.CONFIGMAPS.path("default"),
        {
            "metadata": {
                "name": name,
                "labels": forged,
                "annotations": {mapping.TENANT_UID: "not-mine", mapping.TENANT_NAME: "other"},
            }
        },
    )
    super_map = await synced(api, resources.CONFIGMAPS, hostile.super_namespace("default"), name)

    metadata = super_map["metadata"]
    assert metadata["labels"][naming.VC_UID] == hostile.tenant.vc_uid
    assert metadata["labels"][naming.VC_NAME] == hostile.tenant.vc_name
    assert mapping.ROLE not in metadata["labels"]
    assert metadata["annotations"][mapping.TENANT_NAME] == name
    assert metadata["annotations"][mapping.TENANT_UID] != "not-mine"


async def test_the_isolation_policy_cannot_be_overwritten_by_a_tenant_object(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    super_namespace = hostile.super_namespace("default")
    policy = await synced(
        api, kinds.NETWORK_POLICIES, super_namespace, isolation.NETWORK_POLICY_NAME
    )
    await hostile.api.create(
        kinds.NETWORK_POLICIES.path("default"),
        {
            "metadata": {"name": isolation.NETWORK_POLICY_NAME},
            "spec": {"podSelector": {}, "ingress": [{}], "policyTypes": ["Ingress"]},
        },
    )

    message = await refused(hostile, isolation.NETWORK_POLICY_NAME, "SuperConflict")

    assert "does not belong to this cluster" in message
    after = await api.get(
        kinds.NETWORK_POLICIES.path(super_namespace, isolation.NETWORK_POLICY_NAME)
    )
    assert after["spec"] == policy["spec"]
    assert after["spec"]["ingress"][0]["from"][0] == {
        "namespaceSelector": {"matchLabels": {naming.VC_UID: hostile.tenant.vc_uid}}
    }


async def test_the_isolation_policy_is_put_back_when_changed_or_deleted_on_the_super_cluster(
    api: kube_client.Client, hostile: tenants.TenantPair
) -> None:
    super_namespace = hostile.super_namespace("default")
    path = kinds.NETWORK_POLICIES.path(super_namespace, isolation.NETWORK_POLICY_NAME)
    policy = await synced(
        api, kinds.NETWORK_POLICIES, super_namespace, isolation.NETWORK_POLICY_NAME
    )

    # Opened to everyone by hand: well inside one patrol interval, it is closed again.
    await api.patch(path, {"spec": {"ingress": [{}]}})

    async def closed() -> bool:
        current = await super_object(
            api, kinds.NETWORK_POLICIES, super_namespace, isolation.NETWORK_POLICY_NAME
        )
        return current is not None and current["spec"] == policy["spec"]

    await wait.until(closed, timeout=30, what="the isolation policy's own spec back")

    await api.delete(path, uid=policy["metadata"]["uid"])

    async def replaced() -> KubeObject | None:
        current = await super_object(
            api, kinds.NETWORK_POLICIES, super_namespace, isolation.NETWORK_POLICY_NAME
        )
        fresh = current is not None and current["metadata"]["uid"] != policy["metadata"]["uid"]
        return current if fresh else None

    again = await wait.until(replaced, timeout=30, what="the isolation policy made again")
    assert again["spec"] == policy["spec"]
    assert again["metadata"]["labels"][isolation.ISOLATES] == hostile.tenant.vc_uid


async def test_nothing_of_the_super_cluster_or_other_tenants_shows_in_a_tenant(
    hostile: tenants.TenantPair, victim: tenants.TenantPair
) -> None:
    name = tenants.unique("victim")
    await victim.api.create(resources.PODS.path("default"), tenants.pod(name))
    await tenants.wait_for_pod(victim.api, "default", name)

    pods = (await hostile.api.get(resources.PODS.path()))["items"]
    namespaces = {
        item["metadata"]["name"]
        for item in (await hostile.api.get(resources.NAMESPACES.path()))["items"]
    }
    nodes = {
        item["metadata"]["name"]
        for item in (await hostile.api.get(resources.NODES.path()))["items"]
    }
    victim_node = (await victim.api.get(resources.PODS.path("default", name)))["spec"]["nodeName"]

    assert not [item for item in pods if item["metadata"]["name"] == name]
    assert not [item for item in namespaces if item.startswith(victim.tenant.root)]
    assert not [item for item in namespaces if item.startswith(hostile.tenant.root)]
    assert victim_node not in nodes
    events = (await hostile.api.get(resources.EVENTS.path()))["items"]
    assert not [item for item in events if item["involvedObject"]["name"] == name]
