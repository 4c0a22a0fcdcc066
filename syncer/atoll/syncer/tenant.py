"""One tenant's side of the syncer: its informers, and the sync of one item at a time.

A `TenantSyncer` watches the tenant's API (namespaces, pods, every copied kind, and the
classes and volumes that come up) and puts `(kind, key)` items on the engine's fair queue;
the engine's workers call `sync(item)`, which compares the tenant object with its super
counterpart (from the engine's shared super-cluster caches) and creates, patches or deletes
the super one — or, for kinds that travel up (`cluster_objects`, `volumes`, `nodes`), the
tenant one. Super objects are only touched when their ownership labels name this
VirtualCluster, and deleted with a UID precondition; a clash with an object atoll does not
own is reported on the tenant object.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import TYPE_CHECKING, Any

import structlog

from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, informer, resources
from atoll.syncer import (
    admission,
    cluster_objects,
    kinds,
    mapping,
    metrics,
    nodes,
    service_addresses,
    tenant_events,
)

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module

KubeObject = kube_client.KubeObject
log = structlog.get_logger("atoll.syncer")
OWN_WRITES = 10_000  # echoes awaited at most, per tenant


def _tenant_side(kind_name: str, obj: KubeObject) -> bool:
    """Whether a tenant change goes in the queue's first lane: anything but a bound pod,
    whose changes are mostly its own status coming back."""
    if kind_name != "Pod":
        return True
    return not (obj.get("spec") or {}).get("nodeName") or bool(
        obj["metadata"].get("deletionTimestamp")
    )


class TenantSyncer:
    """Keeps one VirtualCluster's objects and their super counterparts consistent."""

    def __init__(
        self, engine: engine_module.Engine, tenant: mapping.Tenant, access: config.ClusterAccess
    ) -> None:
        self.engine = engine
        self.tenant = tenant
        self.api = kube_client.Client(access, user_agent="atoll-syncer", max_connections=8)
        self.kinds = [kind for kind in kinds.NAMESPACED if kinds.enabled(kind, tenant)]
        watched: list[tuple[resources.Resource, str | None]] = [
            (resources.NAMESPACES, None),
            (resources.PODS, None),
            (resources.NODES, None),
            *((kind.resource, kind.tenant_selector) for kind in self.kinds),
            *((kind.resource, None) for kind in cluster_objects.KINDS.values()),
            # Only the volumes the syncer made: the tenant's own are none of its business.
            (resources.PVS, cluster_objects.COPY_SELECTOR),
        ]
        self.informers = {
            resource.kind: informer.Informer(
                self.api,
                resource,
                label_selector=selector,
                # Pods come by the thousand: kept as JSON text, with the node each is on.
                compact=resource is resources.PODS,
                summary=nodes.node_of if resource is resources.PODS else None,
                log_context={"vc": tenant.key},
            )
            for resource, selector in watched
        }
        self.synced = asyncio.Event()
        self.vnodes: set[str] = set()  # virtual nodes this syncer made in the tenant
        # Tenant resourceVersion last brought down, per object: a repair needed while it is
        # unchanged means the super object drifted.
        self.brought_down: dict[tuple[str, str], str] = {}
        self.admission = admission.Admission(self)
        # (kind, key) → resourceVersion the syncer's last write of it produced
        self._own_writes: dict[tuple[str, str], str | None] = {}
        # Tenant Services (namespace/name) created again for an address (service_addresses)
        self.recreated: collections.Counter[str] = collections.Counter()
        self.log = log.bind(vc=tenant.key)

    async def run(self) -> None:
        """Watch the tenant until cancelled; a full resync follows every start."""
        try:
            async with asyncio.TaskGroup() as group:
                for kind_name, source in self.informers.items():
                    group.create_task(self._feed(kind_name, source))
                group.create_task(self._resync_when_synced())
        finally:
            await self.api.close()

    async def _feed(self, kind_name: str, source: informer.Informer) -> None:
        async for _event_type, obj in source.events():
            key = informer.object_key(obj)
            version = obj["metadata"].get("resourceVersion")
            if self._own_writes.pop((kind_name, key), None) == version:
                continue  # the echo of the syncer's own write: nothing new
            self.enqueue(kind_name, key, tenant_side=_tenant_side(kind_name, obj))

    def wrote(self, kind_name: str, written: KubeObject) -> None:
        """Take in the server's answer to the syncer's own write of a tenant object: the
        cache is current at once, and the watch event it causes is not work."""
        self.informers[kind_name].observe(written)
        key = informer.object_key(written)
        self._own_writes[(kind_name, key)] = written["metadata"].get("resourceVersion")
        while len(self._own_writes) > OWN_WRITES:
            self._own_writes.pop(next(iter(self._own_writes)))

    async def _resync_when_synced(self) -> None:
        await asyncio.gather(*(source.synced.wait() for source in self.informers.values()))
        # Virtual nodes made before a restart are still ours to keep current.
        self.vnodes |= set(self.informers["Node"].cache)
        self.synced.set()
        self.resync()
        self.log.info(
            "tenant_synced", objects=sum(len(source.cache) for source in self.informers.values())
        )

    def enqueue(self, kind_name: str, key: str, *, tenant_side: bool = False) -> None:
        self.engine.queue.add(self.tenant.key, (kind_name, key), tenant_side=tenant_side)

    def resync(self) -> None:
        """Queue every tenant object and every super object this tenant owns (orphans)."""
        for kind_name, source in self.informers.items():
            for key in list(source.cache):
                self.enqueue(kind_name, key)
        for kind_name in self.informers:
            if kind_name == "Node":
                continue
            for super_obj in self.engine.owned_objects(kind_name, self.tenant.vc_uid):
                if (tenant_key := mapping.tenant_key_of(super_obj)) is not None:
                    self.enqueue(kind_name, tenant_key)
        # Classes the tenant may use but has no copy of yet.
        self.engine.classes.resync(self)

    async def sync(self, kind_name: str, key: str) -> None:
        """Bring the super counterpart of one tenant object in line with it."""
        if not self.synced.is_set() or not self.engine.super_synced():
            # Until every cache is filled, a missing object may just not be seen yet.
            self.engine.queue.add_later(self.tenant.key, (kind_name, key), 1.0)
            return
        if kind_name == "Namespace":
            await self._sync_namespace(key)
        elif kind_name == "Pod":
            await self.engine.pods.sync(self, key)
        elif kind_name in ("Node", "Lease"):
            await self.engine.nodes.sync(self, kind_name, key)
        elif kind_name == "NodeRemoval":
            await self.engine.nodes.remove(self, key)
        elif kind_name == "Event":
            await tenant_events.event_up(self, key)
        elif kind_name in cluster_objects.KINDS:
            await self.engine.classes.sync(self, cluster_objects.KINDS[kind_name], key)
        elif kind_name == "PersistentVolume":
            await self.engine.volumes.sync(self, key)
        else:
            await self._sync_copied(kinds.BY_NAME[kind_name], key)

    async def _sync_namespace(self, name: str) -> None:
        tenant_namespace = self.informers["Namespace"].cache.get(name)
        super_name = mapping.super_namespace(self.tenant, name)
        super_obj = self.engine.super_cache("Namespace").get(super_name)
        if tenant_namespace is None or tenant_namespace["metadata"].get("deletionTimestamp"):
            await self.delete_owned(resources.NAMESPACES, super_obj)
            return
        want = kinds.super_namespace_object(self.tenant, tenant_namespace)
        current = await self.ensure(
            resources.NAMESPACES, want, super_obj, tenant_namespace, "Namespace"
        )
        if current is not None:
            await admission.confine(self, super_name)

    async def ensure_namespace(self, tenant_namespace: str) -> None:
        """Create the super namespace now if the tenant's exists and it is missing."""
        super_name = mapping.super_namespace(self.tenant, tenant_namespace)
        if super_name not in self.engine.super_cache("Namespace"):
            await self._sync_namespace(tenant_namespace)

    async def _sync_copied(self, kind: kinds.Kind, key: str) -> None:
        tenant_obj = self.informers[kind.name].cache.get(key)
        namespace, name = key.split("/", 1)
        super_key = f"{mapping.super_namespace(self.tenant, namespace)}/{name}"
        super_obj = self.engine.super_cache(kind.name).get(super_key)
        if (
            tenant_obj is None
            and super_obj is not None
            and service_addresses.replacing(super_obj, self.tenant)
        ):
            # A re-creation of the tenant Service began and must finish, even when the
            # syncer that began it died half-way.
            await service_addresses.finish_replacement(self, super_obj)
            return
        if tenant_obj is None and kind.resource is resources.PVCS:
            self.engine.volumes.claim_gone(self, key)
        if tenant_obj is None or not self._wanted(kind, tenant_obj):
            # Only a copy of this very object: super controllers pass the ownership labels
            # on (Endpoints take their Service's labels, mirrored slices the Endpoints'), and
            # what they made is theirs.
            if super_obj is not None and mapping.tenant_key_of(super_obj) == key:
                await self.delete_owned(kind.resource, super_obj)
            return

        want = kinds.desired(kind, self.tenant, tenant_obj)
        await self.ensure_namespace(namespace)
        async with self.admission.turn(kind):
            if (refusal := self.admission.refusal(kind, tenant_obj)) is not None:
                await self.refuse(tenant_obj, *refusal)
                return
            try:
                current = await self.ensure(kind.resource, want, super_obj, tenant_obj, kind.name)
            except errors.Invalid as error:
                # The tenant's address is taken on the super-cluster: it picks one, and the
                # tenant Service gets another (service_addresses).
                fallback = service_addresses.refused_form(want) if super_obj is None else None
                if fallback is None:
                    raise
                self.log.warning(
                    "service_address_refused",
                    kind=kind.name,
                    namespace=namespace,
                    name=name,
                    direction="down",
                    error=str(error)[:200],
                )
                current = await self.ensure(
                    kind.resource, fallback, super_obj, tenant_obj, kind.name
                )
            if super_obj is None and current is not None:
                self.admission.created(kind, key, current)
        if current is not None and kind.resource is resources.SERVICES:
            await service_addresses.agree(self, tenant_obj, current)
            # Its endpoints may have arrived before it, or a selector come or gone since.
            self._enqueue_endpoints(tenant_obj, super_key)
        if current is not None and kind.resource is resources.PVCS:
            # The volume first: the tenant's binder then shows the claim Bound to it.
            await self.engine.volumes.up(self, tenant_obj, current)
            await tenant_events.claim_status_up(self, tenant_obj, current)

    def _enqueue_endpoints(self, tenant_service: KubeObject, super_key: str) -> None:
        """Queue the hand-written Endpoints and EndpointSlices of one tenant Service."""
        key = informer.object_key(tenant_service)
        namespace, service = key.split("/", 1)
        selectorless = not (tenant_service.get("spec") or {}).get("selector")
        # With a selector, only a copy made while it had none is left to remove.
        copied = self.engine.super_cache("Endpoints").get(super_key)
        if selectorless or (copied is not None and mapping.tenant_key_of(copied) == key):
            self.enqueue("Endpoints", key)
        slices = self.informers.get(kinds.ENDPOINT_SLICE.name)
        for key, tenant_slice in list(slices.cache.items()) if slices else []:
            if (
                key.startswith(f"{namespace}/")
                and kinds.ENDPOINT_SLICE.service_of(tenant_slice) == service
            ):
                self.enqueue(kinds.ENDPOINT_SLICE.name, key)

    def _wanted(self, kind: kinds.Kind, tenant_obj: KubeObject) -> bool:
        if not kind.wants(tenant_obj):
            return False
        if kind.selectorless_only:
            service_name = kind.service_of(tenant_obj)
            namespace = tenant_obj["metadata"]["namespace"]
            service = self.informers["Service"].cache.get(f"{namespace}/{service_name}")
            return service is not None and not (service.get("spec") or {}).get("selector")
        return True

    async def ensure(
        self,
        resource: resources.Resource,
        want: KubeObject,
        super_obj: KubeObject | None,
        tenant_obj: KubeObject,
        kind_name: str,
    ) -> KubeObject | None:
        """Create or patch the super object; None when it belongs to someone else."""
        namespace = want["metadata"].get("namespace")
        if super_obj is None:
            try:
                created = await self.engine.api.create(resource.path(namespace), want)
            except errors.AlreadyExists:
                # Our cache has not seen it yet, or someone else holds the name: look.
                super_obj = await self.engine.api.get(
                    resource.path(namespace, want["metadata"]["name"])
                )
            else:
                metrics.SYNCED.labels(vc=self.tenant.key, kind=kind_name).inc()
                return created

        if not mapping.owned_by(super_obj, self.tenant):
            await self.refuse(
                tenant_obj,
                "SuperConflict",
                f"{kind_name} {want['metadata']['name']} already exists on the "
                "super-cluster and does not belong to this cluster; rename it",
            )
            return None
        change = kinds.patch(kinds.BY_NAME.get(kind_name) or _METADATA_ONLY, want, super_obj)
        identity = (kind_name, informer.object_key(tenant_obj))
        version = tenant_obj["metadata"].get("resourceVersion", "")
        if change is None:
            self.brought_down[identity] = version
            return super_obj
        if self.brought_down.get(identity) == version:
            self.drift(kind_name, want, sorted(change))
        path = resource.path(namespace, want["metadata"]["name"])
        patched = await self.engine.api.patch(path, change)
        self.brought_down[identity] = version
        return patched

    def drift(self, kind_name: str, want: KubeObject, fields: list[str]) -> None:
        """A super object changed behind the syncer's back: say so, and count it."""
        metrics.DRIFT.labels(vc=self.tenant.key, kind=kind_name).inc()
        self.log.warning(
            "drift_repaired",
            kind=kind_name,
            namespace=want["metadata"].get("namespace"),
            name=want["metadata"]["name"],
            direction="down",
            fields=fields,
        )

    @property
    def healthy(self) -> bool:
        return all(source.healthy for source in self.informers.values())

    @property
    def last_error(self) -> str:
        return next(
            (source.last_error for source in self.informers.values() if source.last_error), ""
        )

    async def delete_owned(
        self, resource: resources.Resource, super_obj: KubeObject | None
    ) -> None:
        """Delete `super_obj` if, and only if, this tenant owns it (UID precondition)."""
        if super_obj is None or not mapping.owned_by(super_obj, self.tenant):
            return
        metadata = super_obj["metadata"]
        if metadata.get("deletionTimestamp"):
            return
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.engine.api.delete(
                resource.path(metadata.get("namespace"), metadata["name"]), uid=metadata["uid"]
            )
            self.log.debug(
                "super_deleted",
                kind=resource.kind,
                namespace=metadata.get("namespace"),
                name=metadata["name"],
                direction="down",
            )

    async def refuse(self, tenant_obj: KubeObject, reason: str, message: str) -> None:
        """Tell the tenant why its object is not synced: an Event on the object."""
        metrics.ERRORS.labels(vc=self.tenant.key, reason=reason).inc()
        await tenant_events.record(self, tenant_obj, "Warning", reason, message)


_METADATA_ONLY = kinds.Kind(resources.NAMESPACES, ())


def tenant_object_path(
    resource: resources.Resource, obj: KubeObject, subresource: str | None = None
) -> str:
    metadata: dict[str, Any] = obj["metadata"]
    return resource.path(metadata.get("namespace"), metadata["name"], subresource)
