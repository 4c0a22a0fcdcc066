"""Tenants on the real super-cluster, for syncer tests: both sides and their names."""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import mapping
from support import vcs

KubeObject = kube_client.KubeObject


@dataclasses.dataclass(frozen=True)
class TenantPair:
    """A tenant's own client, and how its objects are named on the super-cluster."""

    api: kube_client.Client
    tenant: mapping.Tenant

    def super_namespace(self, tenant_namespace: str) -> str:
        return mapping.super_namespace(self.tenant, tenant_namespace)


async def running_tenant(
    api: kube_client.Client, name: str, spec: dict[str, object] | None = None
) -> TenantPair:
    """Create a VirtualCluster in a fresh namespace and wait until it runs."""
    namespace = f"sync-{uuid.uuid4().hex[:8]}"
    await api.create(resources.NAMESPACES.path(), {"metadata": {"name": namespace}})
    await vcs.create_vc(api, namespace, name, spec)
    vc = await vcs.wait_phase(api, namespace, name, "Running")
    access = await vcs.tenant_access(api, namespace, name)
    view = mapping.Tenant(
        vc_name=name,
        vc_namespace=namespace,
        vc_uid=vc["metadata"]["uid"],
        server=vc["status"]["controlPlaneEndpoint"],
        spec=vc["spec"],
        service_range=vc["status"].get("serviceCIDR"),
    )
    client = kube_client.Client(access)

    # Like any new cluster, the tenant accepts pods once its controller-manager has made
    # the default ServiceAccount.
    async def account_ready() -> bool:
        try:
            await client.get(resources.SERVICEACCOUNTS.path("default", "default"))
        except errors.NotFound:
            return False
        return True

    await wait.until(account_ready, timeout=60, what=f"{name}'s default ServiceAccount")
    return TenantPair(api=client, tenant=view)


def pod(name: str, *, labels: dict[str, str] | None = None, **spec: Any) -> KubeObject:
    """A small tenant pod; `spec` adds or replaces pod spec fields."""
    body: KubeObject = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {"app": name}},
        "spec": {"containers": [{"name": "main", "image": "busybox:1.36"}], **spec},
    }
    return body


async def wait_for_pod(
    client: kube_client.Client,
    namespace: str,
    name: str,
    phase: str = "Running",
    timeout: float = 90,
) -> KubeObject:
    async def reached() -> KubeObject | None:
        try:
            current = await client.get(resources.PODS.path(namespace, name))
        except Exception:  # noqa: BLE001 - not there yet
            return None
        return current if (current.get("status") or {}).get("phase") == phase else None

    return await wait.until(reached, timeout=timeout, what=f"pod {namespace}/{name} {phase}")


async def wait_until_missing(client: kube_client.Client, path: str, timeout: float = 90) -> bool:
    return await vcs.wait_gone(client, path, timeout)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"
