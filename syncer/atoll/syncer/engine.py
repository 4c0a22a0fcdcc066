"""The syncer engine: which tenants to serve, the shared super-cluster watches, the workers.

One engine serves many VirtualClusters. It watches VirtualClusters and starts a
`TenantSyncer` for each one that is Running (and, with sharding, hashes to this shard),
stopping it when the cluster is paused, deleted or fails. The super-cluster is watched once
for all tenants — one informer per kind, limited to objects carrying atoll's ownership
label — and each change is routed by that label to its tenant's queue. Workers take items
from the fair queue, so no tenant starves another, and retry failures with backoff.
"""

from __future__ import annotations

import asyncio
import base64
import collections
import contextlib
import functools
import hashlib
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import structlog

from atoll.core import api as atoll_api
from atoll.core import backoff, naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, informer, resources
from atoll.syncer import (
    admission,
    cluster_objects,
    dedicated,
    dns,
    kinds,
    mapping,
    metrics,
    nodes,
    podsync,
    queue,
    reporting,
    tenant,
    tenant_events,
    volumes,
)
from atoll.syncer.pods import quota, translate

KubeObject = kube_client.KubeObject
log = structlog.get_logger("atoll.syncer.engine")
PENDING_EVENTS = 20_000  # super Events routed to a tenant and not yet mirrored


def shard_of(vc_uid: str, shards: int) -> int:
    return int(hashlib.sha256(vc_uid.encode()).hexdigest(), 16) % shards


class Engine:
    """Serves every VirtualCluster of its shard until cancelled."""

    def __init__(
        self,
        api: kube_client.Client,
        *,
        shards: int = 1,
        shard: int = 0,
        workers: int = 128,
        tenant_side_workers: int = 32,
        per_tenant: int = 32,
        patrol_interval: float = 60.0,
        pool_label: str = "apps.openyurt.io/nodepool",
        cluster_dns: str | None = None,
        cluster_domain: str = dns.DEFAULT_DOMAIN,
    ) -> None:
        self.api = api
        self.shards, self.shard = shards, shard
        self.workers = workers
        self.tenant_side_workers = tenant_side_workers
        self.patrol_interval = patrol_interval
        self.pool_label = pool_label
        self.queue = queue.FairQueue(per_tenant=per_tenant)
        self.tenants: dict[str, tenant.TenantSyncer] = {}
        self.by_uid: dict[str, tenant.TenantSyncer] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._retries: dict[tuple[str, queue.Item], backoff.Backoff] = {}
        self.dedicated = dedicated.Holders()
        self.super_informers = {
            kind_name: self._owned(resource)
            for kind_name, resource in [
                ("Namespace", resources.NAMESPACES),
                ("Pod", resources.PODS),
                *[(kind.name, kind.resource) for kind in kinds.NAMESPACED],
            ]
        }
        # Events are not cached: each one routed to a tenant waits here until mirrored.
        self.super_events = informer.Informer(api, resources.EVENTS, keep=False)
        self.pending_events: collections.OrderedDict[str, KubeObject] = collections.OrderedDict()
        self.policies = admission.Policies(self)
        self.nodes = nodes.NodeMirror(self)
        self.pods = podsync.PodSync(self)
        self.classes = cluster_objects.ClassMirror(self)
        self.volumes = volumes.VolumeMirror(self)
        self.dns = dns.ClusterDns(api, nameserver=cluster_dns, domain=cluster_domain)

    def _owned(self, resource: resources.Resource) -> informer.Informer:
        """A shared watch on the super objects some tenant owns, indexed by their owner."""
        if resource is not resources.PODS:
            return informer.Informer(
                self.api, resource, label_selector=naming.VC_UID, index_label=naming.VC_UID
            )
        # Pods come by the thousand: kept as JSON text, without what the syncer never reads
        # back, and with what each counts against quotas.
        return informer.Informer(
            self.api,
            resource,
            label_selector=naming.VC_UID,
            index_label=naming.VC_UID,
            transform=translate.cached_form,
            compact=True,
            summary=functools.partial(quota.use_of, pool_label=self.pool_label),
        )

    def super_synced(self) -> bool:
        """Whether every super-cluster cache is complete: before, absence proves nothing."""
        return (
            all(source.synced.is_set() for source in self.super_informers.values())
            and self.policies.source.synced.is_set()
            and self.classes.synced()
            and self.volumes.synced()
            and self.dns.synced()
        )

    def super_cache(self, kind_name: str) -> MutableMapping[str, KubeObject]:
        return self.super_informers[kind_name].cache

    def owned_objects(self, kind_name: str, vc_uid: str) -> Iterator[KubeObject]:
        source = self.super_informers.get(kind_name)
        yield from source.indexed(vc_uid) if source else []

    def owned_count(self, kind_name: str, vc_uid: str) -> int:
        source = self.super_informers.get(kind_name)
        return source.indexed_count(vc_uid) if source else 0

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for kind_name, source in self.super_informers.items():
                group.create_task(self._route(kind_name, source))
            group.create_task(self.nodes.run())
            group.create_task(self.policies.run())
            group.create_task(self.classes.run())
            group.create_task(self.volumes.run())
            group.create_task(self.dns.run())
            group.create_task(self._route_events())
            group.create_task(self._watch_virtual_clusters())
            group.create_task(self._patrol())
            group.create_task(reporting.report_forever(self))
            for _ in range(self.workers):
                group.create_task(self._work(tenant_side=False))
            for _ in range(self.tenant_side_workers):
                group.create_task(self._work(tenant_side=True))

    async def _route(self, kind_name: str, source: informer.Informer) -> None:
        """Send each super-cluster change to the queue of the tenant that owns it."""
        async for _event_type, obj in source.events():
            owner = self.by_uid.get(mapping.vc_uid_of(obj) or "")
            if owner is None:
                continue
            key = (
                (obj["metadata"].get("annotations") or {}).get(mapping.TENANT_NAMESPACE)
                if kind_name == "Namespace"
                else mapping.tenant_key_of(obj)
            )
            if key:
                owner.enqueue(kind_name, key)

    async def _route_events(self) -> None:
        """Super Events about pods and services go to the tenant owning their namespace."""
        async for event_type, event in self.super_events.events():
            if event_type == "DELETED":
                continue
            # Looked up each time: a relist replaces the cache.
            namespace = self.super_cache("Namespace").get(event["metadata"].get("namespace", ""))
            owner = self.by_uid.get(mapping.vc_uid_of(namespace or {}) or "")
            if owner is None:
                continue
            key = informer.object_key(event)
            self.pending_events.pop(key, None)
            self.pending_events[key] = _slim_event(event)
            while len(self.pending_events) > PENDING_EVENTS:
                # A burst beyond this drops the oldest news: Events are advice, not state.
                self.pending_events.popitem(last=False)
            owner.enqueue("Event", key)

    async def _watch_virtual_clusters(self) -> None:
        source = informer.Informer(self.api, atoll_api.VIRTUALCLUSTERS)
        async for event_type, vc in source.events():
            self.dedicated.note(vc, gone=event_type == "DELETED")
            await self._consider(vc, gone=event_type == "DELETED")

    def _serves(self, vc: KubeObject) -> bool:
        status = vc.get("status") or {}
        return (
            status.get("phase") == "Running"
            and bool(status.get("controlPlaneEndpoint"))
            and not (vc.get("spec") or {}).get("paused")
            and not vc["metadata"].get("deletionTimestamp")
            and shard_of(vc["metadata"]["uid"], self.shards) == self.shard
        )

    async def _consider(self, vc: KubeObject, *, gone: bool) -> None:
        metadata = vc["metadata"]
        key = f"{metadata['namespace']}/{metadata['name']}"
        current = self.tenants.get(key)
        wanted = None if gone or not self._serves(vc) else self._tenant_of(vc)
        if current is not None and (
            wanted is None or wanted != current.tenant or wanted.spec != current.tenant.spec
        ):
            await self._stop(key)
            current = None
        if wanted is not None and current is None:
            try:
                access = await self._access(vc)
            except errors.ApiError as error:
                log.warning("tenant_credentials_missing", vc=key, error=str(error))
                return
            self._start(tenant.TenantSyncer(self, wanted, access))

    def _tenant_of(self, vc: KubeObject) -> mapping.Tenant:
        metadata = vc["metadata"]
        return mapping.Tenant(
            vc_name=metadata["name"],
            vc_namespace=metadata["namespace"],
            vc_uid=metadata["uid"],
            server=vc["status"]["controlPlaneEndpoint"],
            spec=dict(vc.get("spec") or {}),
            pool_label=self.pool_label,
            service_range=vc["status"].get("serviceCIDR"),
        )

    async def _access(self, vc: KubeObject) -> config.ClusterAccess:
        """The syncer's own identity on the tenant API server, from the tenant's PKI."""
        cluster_namespace = vc["status"]["clusterNamespace"]
        authority = await self.api.get(resources.SECRETS.path(cluster_namespace, "atoll-ca"))
        certs = await self.api.get(resources.SECRETS.path(cluster_namespace, "atoll-certs"))
        return config.ClusterAccess(
            server=vc["status"]["controlPlaneEndpoint"],
            ca_pem=base64.b64decode(authority["data"]["ca.crt"]),
            client_cert_pem=base64.b64decode(certs["data"]["syncer.crt"]),
            client_key_pem=base64.b64decode(certs["data"]["syncer.key"]),
        )

    def _start(self, syncer: tenant.TenantSyncer) -> None:
        key = syncer.tenant.key
        self.tenants[key] = syncer
        self.by_uid[syncer.tenant.vc_uid] = syncer
        self._tasks[key] = asyncio.get_running_loop().create_task(syncer.run())
        metrics.TENANTS.set(len(self.tenants))
        log.info("tenant_started", vc=key)

    async def _stop(self, key: str) -> None:
        syncer = self.tenants.pop(key)
        self.by_uid.pop(syncer.tenant.vc_uid, None)
        task = self._tasks.pop(key)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
        self.queue.forget(key)
        self.nodes.forget(key)
        metrics.TENANTS.set(len(self.tenants))
        log.info("tenant_stopped", vc=key)

    async def _work(self, *, tenant_side: bool) -> None:
        while True:
            taken = await self.queue.get(tenant_side=tenant_side)
            tenant_key, item = taken.tenant, taken.item
            kind_name, key = item
            syncer = self.tenants.get(tenant_key)
            started = time.monotonic()
            try:
                if syncer is not None:
                    await syncer.sync(kind_name, key)
                self._retries.pop((tenant_key, item), None)
            except errors.ApiError as error:
                retry = self._retries.setdefault((tenant_key, item), backoff.Backoff(0.5, 30))
                delay = retry.next_delay()
                metrics.ERRORS.labels(vc=tenant_key, reason=type(error).__name__).inc()
                log.debug(
                    "sync_retry", **_context(taken), error=str(error)[:200], delay=round(delay, 2)
                )
                self.queue.add_later(tenant_key, item, delay)
            except Exception:
                log.exception("sync_failed", **_context(taken))
                self.queue.add_later(tenant_key, item, 30.0)
            finally:
                self.queue.done(tenant_key, item)
                metrics.SYNC_SECONDS.labels(kind=kind_name).observe(time.monotonic() - started)
                metrics.QUEUE_WAIT_SECONDS.labels(
                    kind=kind_name, side="tenant" if taken.tenant_side else "super"
                ).observe(taken.waited)

    async def _patrol(self) -> None:
        """Every `patrol_interval`, compare everything: repairs drift, removes orphans."""
        while True:
            await asyncio.sleep(self.patrol_interval)
            for key, syncer in list(self.tenants.items()):
                if syncer.synced.is_set():
                    syncer.resync()
                    self.nodes.patrol(syncer)
                metrics.QUEUE_DEPTH.labels(vc=key).set(self.queue.depth(key))
                metrics.QUEUE_AGE.labels(vc=key).set(self.queue.oldest(key))


def _context(taken: queue.Taken) -> dict[str, str | None]:
    """What a log line about one work item says of it."""
    kind_name, key = taken.item
    namespace, _, name = key.rpartition("/")
    return {
        "vc": taken.tenant,
        "kind": kind_name,
        "namespace": namespace or None,
        "name": name,
        # A change travels away from the side where it happened.
        "direction": "down" if taken.tenant_side else "up",
    }


def _slim_event(event: KubeObject) -> KubeObject:
    """What mirroring an Event reads of it."""
    metadata = event["metadata"]
    return {
        **{key: value for key, value in event.items() if key in tenant_events.MIRRORED},
        "metadata": {"name": metadata["name"], "namespace": metadata.get("namespace")},
    }


def describe(engine: Engine) -> dict[str, Any]:
    """What `atoll get` shows about syncing: tenants served and queue depths."""
    return {
        key: {"queued": engine.queue.depth(key), "synced": syncer.synced.is_set()}
        for key, syncer in engine.tenants.items()
    }
