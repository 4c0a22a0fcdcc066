"""Virtual nodes: the super-cluster's nodes as each tenant sees them, and their heartbeats.

A tenant sees a Node for every super node its pods run on (node view `used`, the default)
or for every node of its pools (`pools`), with the same name, labels, taints, capacity and
the REAL conditions — a disconnected edge node shows as NotReady/Unknown, as it is. Its
Lease in `kube-node-lease` follows the super node's, so a healthy node never looks silent:
not every renewal (a kubelet renews every quarter of the lease's duration, and each copy is
a write to the tenant's API server), but the latest one at least every half duration, so
the tenant's copy is always valid while the super one is. The tenant has no node-lifecycle
controller, so none of this evicts anything.
Virtual nodes that no tenant pod uses any more are removed after a grace period.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module
    from atoll.syncer import tenant as tenant_module

KubeObject = kube_client.KubeObject
NODE_LEASES = "kube-node-lease"
UNUSED_GRACE = 60.0
EDGE_LABEL = "openyurt.io/is-edge-worker"
NODEPOOL_GROUP = "/apis/apps.openyurt.io"
POOL_TYPES_INTERVAL = 30.0
LEASE_STALENESS = 0.5  # of the lease's duration: how far a tenant's copy may lag behind
DEFAULT_LEASE_SECONDS = 40
_STATUS_FIELDS = (
    "conditions",
    "capacity",
    "allocatable",
    "addresses",
    "nodeInfo",
    "daemonEndpoints",
)


def node_of(pod: KubeObject) -> str | None:
    """The node a pod is bound to: what the tenant pod cache keeps beside each pod."""
    node = (pod.get("spec") or {}).get("nodeName")
    return str(node) if node else None


class NodeMirror:
    """Shared watches on super nodes and leases; per-tenant virtual nodes."""

    def __init__(self, engine: engine_module.Engine) -> None:
        self.engine = engine
        self.nodes = informer.Informer(engine.api, resources.NODES)
        self.leases = informer.Informer(engine.api, resources.LEASES, namespace=NODE_LEASES)
        self._unused_since: dict[tuple[str, str], float] = {}
        # (tenant, node) → when its lease was last copied, and the holder and duration then
        self._lease_copied: dict[tuple[str, str], tuple[float, tuple[object, object]]] = {}
        self.pool_types: dict[str, str] = {}  # from OpenYurt's NodePool API, when served

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            group.create_task(self._route(self.nodes, "Node"))
            group.create_task(self._route(self.leases, "Lease"))
            group.create_task(self._follow_pool_types())

    async def _follow_pool_types(self) -> None:
        """Pool types (Edge or Cloud) from OpenYurt's NodePool objects, if that API exists."""
        while True:
            try:
                group = await self.engine.api.get(NODEPOOL_GROUP)
                version = group["preferredVersion"]["groupVersion"]
                listing = await self.engine.api.get(f"/apis/{version}/nodepools")
                self.pool_types = {
                    pool["metadata"]["name"]: str((pool.get("spec") or {}).get("type", ""))
                    for pool in listing["items"]
                }
            except (errors.NotFound, KeyError):
                self.pool_types = {}
            except errors.ApiError:
                pass  # keep what we knew; try again next round
            await asyncio.sleep(POOL_TYPES_INTERVAL)

    async def _route(self, source: informer.Informer, kind_name: str) -> None:
        async for _event_type, obj in source.events():
            name = obj["metadata"]["name"]
            for syncer in list(self.engine.tenants.values()):
                if name in syncer.vnodes or self._in_view(syncer, name):
                    syncer.enqueue(kind_name, name)

    def pool_of(self, node_name: str) -> str | None:
        node = self.nodes.cache.get(node_name)
        labels = (node or {}).get("metadata", {}).get("labels") or {}
        return labels.get(self.engine.pool_label)

    def node_pools(self) -> dict[str, str]:
        label = self.engine.pool_label
        return {
            name: (node["metadata"].get("labels") or {}).get(label, "")
            for name, node in self.nodes.cache.items()
        }

    def edge_pools(self) -> frozenset[str]:
        """Edge pools: by OpenYurt's NodePool type where that API is served, else by label."""
        label = self.engine.pool_label
        by_label = {
            (node["metadata"].get("labels") or {}).get(label, "")
            for node in self.nodes.cache.values()
            if (node["metadata"].get("labels") or {}).get(EDGE_LABEL) == "true"
        }
        typed = {pool for pool, kind in self.pool_types.items() if kind.lower() == "edge"}
        return frozenset(typed | (by_label - set(self.pool_types)))

    def _in_view(self, syncer: tenant_module.TenantSyncer, node_name: str) -> bool:
        if (syncer.tenant.spec.get("sync") or {}).get("nodeView") != "pools":
            return False
        allowed = [pool["name"] for pool in syncer.tenant.spec.get("nodePools") or []]
        return self.pool_of(node_name) in allowed

    async def sync(self, syncer: tenant_module.TenantSyncer, kind_name: str, name: str) -> None:
        if kind_name == "Lease":
            await self._sync_lease(syncer, name)
        elif name in syncer.vnodes or self._in_view(syncer, name):
            await self.ensure(syncer, name)

    async def ensure(self, syncer: tenant_module.TenantSyncer, name: str) -> None:
        """Create or update the tenant's virtual node `name` from the super node."""
        super_node = self.nodes.cache.get(name)
        if super_node is None:
            return
        path = resources.NODES.path(name=name)
        labels = super_node["metadata"].get("labels") or {}
        spec = {
            key: value
            for key, value in (super_node.get("spec") or {}).items()
            if key in ("taints", "unschedulable")
        }
        # The tenant's own node watch says what it has; a node it has not shown yet is
        # looked up only if creating it finds one there.
        current = syncer.informers["Node"].cache.get(name)
        if current is None:
            try:
                current = await syncer.api.create(
                    resources.NODES.path(),
                    {
                        "apiVersion": "v1",
                        "kind": "Node",
                        "metadata": {"name": name, "labels": labels},
                        "spec": spec,
                    },
                )
            except errors.AlreadyExists:
                current = await syncer.api.get(path)
        syncer.vnodes.add(name)

        shown = current["metadata"].get("labels") or {}
        if shown != labels or current.get("spec", {}) != spec:
            # Labels the super node no longer has are removed (null in a merge patch).
            gone = dict.fromkeys(set(shown) - set(labels))
            current = await syncer.api.patch(
                path,
                {
                    "metadata": {"labels": {**gone, **labels}},
                    "spec": {
                        "taints": spec.get("taints"),
                        "unschedulable": spec.get("unschedulable"),
                    },
                },
            )
            syncer.wrote("Node", current)
        wanted = {field: super_node.get("status", {}).get(field) for field in _STATUS_FIELDS}
        have = {field: current.get("status", {}).get(field) for field in _STATUS_FIELDS}
        if wanted != have:
            written = await syncer.api.patch(
                resources.NODES.path(name=name, subresource="status"),
                {"status": wanted},
                patch_type="strategic",
            )
            syncer.wrote("Node", written)

    async def _sync_lease(self, syncer: tenant_module.TenantSyncer, name: str) -> None:
        super_lease = self.leases.cache.get(f"{NODE_LEASES}/{name}")
        if super_lease is None or name not in syncer.vnodes:
            return
        spec = {
            key: value
            for key, value in super_lease.get("spec", {}).items()
            if key in ("holderIdentity", "leaseDurationSeconds", "renewTime")
        }
        key = (syncer.tenant.key, name)
        identity = (spec.get("holderIdentity"), spec.get("leaseDurationSeconds"))
        allowed_lag = LEASE_STALENESS * (spec.get("leaseDurationSeconds") or DEFAULT_LEASE_SECONDS)
        copied = self._lease_copied.get(key)
        if copied is not None and copied[1] == identity:
            due = copied[0] + allowed_lag - time.monotonic()
            if due > 0:
                # Copied recently: the renewal the super lease holds then is copied when due.
                syncer.engine.queue.add_later(
                    syncer.tenant.key, ("Lease", name), due, tenant_side=False
                )
                return
        path = resources.LEASES.path(NODE_LEASES, name)
        try:
            await syncer.api.patch(path, {"spec": spec})
        except errors.NotFound:
            with contextlib.suppress(errors.AlreadyExists):
                await syncer.api.create(
                    resources.LEASES.path(NODE_LEASES),
                    {
                        "apiVersion": "coordination.k8s.io/v1",
                        "kind": "Lease",
                        "metadata": {"name": name, "namespace": NODE_LEASES},
                        "spec": spec,
                    },
                )
        self._lease_copied[key] = (time.monotonic(), identity)

    def forget(self, tenant_key: str) -> None:
        """Drop what is kept about a tenant the engine no longer serves."""
        for kept in (self._unused_since, self._lease_copied):
            for key in [key for key in kept if key[0] == tenant_key]:
                del kept[key]

    def patrol(self, syncer: tenant_module.TenantSyncer) -> None:
        """Queue removal of virtual nodes no tenant pod has used for `UNUSED_GRACE`."""
        used = set(syncer.informers["Pod"].summaries.values())
        now = time.monotonic()
        for name in list(syncer.vnodes):
            key = (syncer.tenant.key, name)
            if name in used or self._in_view(syncer, name):
                self._unused_since.pop(key, None)
            elif now - self._unused_since.setdefault(key, now) >= UNUSED_GRACE:
                syncer.enqueue("NodeRemoval", name)

    async def remove(self, syncer: tenant_module.TenantSyncer, name: str) -> None:
        syncer.vnodes.discard(name)
        self._unused_since.pop((syncer.tenant.key, name), None)
        self._lease_copied.pop((syncer.tenant.key, name), None)
        with contextlib.suppress(errors.NotFound):
            await syncer.api.delete(resources.NODES.path(name=name))
