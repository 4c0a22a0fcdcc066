"""Pods, both ways: translate down, then play the tenant's kubelet with what comes back up.

Down: a tenant pod becomes a super pod (`pods.translate`) once placement allows it
(`pods.placement`) and its service-account token is in place: a token issued by the TENANT
API server (TokenRequest), kept in a super Secret per service account and refreshed before
it expires. Up: the tenant pod is bound to the virtual node of the super pod's node, shows
the super pod's status (`pods.status`), and a tenant pod being deleted is finished off once
its super pod is gone, as a kubelet would. The syncer never deletes or recreates a tenant
pod because its node went dark.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import isolation, mapping, metrics
from atoll.syncer.pods import placement, quota, security, status, tokens, translate

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module
    from atoll.syncer import tenant as tenant_module

KubeObject = kube_client.KubeObject


@dataclasses.dataclass
class QuotaLedger:
    """One tenant's admissions: decided one at a time, counted until their pod is seen."""

    lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock)
    inflight: dict[str, tuple[str, quota.Usage]] = dataclasses.field(default_factory=dict)
    waiting: set[str] = dataclasses.field(default_factory=set)


class PodSync:
    """The pod logic of every tenant; stateless apart from the engine's caches."""

    def __init__(self, engine: engine_module.Engine) -> None:
        self.engine = engine
        self.ledgers: dict[str, QuotaLedger] = {}
        self.tokens = tokens.TokenKeeper(engine)

    async def sync(self, syncer: tenant_module.TenantSyncer, key: str) -> None:
        tenant_pod = syncer.informers["Pod"].cache.get(key)
        namespace, name = key.split("/", 1)
        super_namespace = mapping.super_namespace(syncer.tenant, namespace)
        super_pod = self.engine.super_cache("Pod").get(f"{super_namespace}/{name}")
        if super_pod is not None and not mapping.owned_by(super_pod, syncer.tenant):
            if tenant_pod is not None:
                await syncer.refuse(
                    tenant_pod,
                    "SuperConflict",
                    f"pod {name} exists on the super-cluster and is not ours",
                )
            return

        if super_pod is not None or tenant_pod is None:
            self._settle(syncer, key)
        if tenant_pod is None or (super_pod or {}).get("status", {}).get("phase") in (
            quota.TERMINAL
        ):
            self._release(syncer)
        if tenant_pod is None:
            await self._delete_super(super_pod)
        elif tenant_pod["metadata"].get("deletionTimestamp"):
            await self._finish_deletion(syncer, tenant_pod, super_pod)
        elif (
            super_pod is not None
            and mapping.tenant_uid_of(super_pod) != tenant_pod["metadata"]["uid"]
        ):
            # The name was reused by a new tenant pod: the old super pod goes first.
            await self._delete_super(super_pod)
        elif super_pod is None and _finished(tenant_pod):
            return  # a pod that ran to its end is never started again
        elif super_pod is None and (tenant_pod.get("status") or {}).get("startTime"):
            await self._lost(syncer, tenant_pod)
        elif super_pod is None:
            await self._create(syncer, tenant_pod)
        else:
            await self._update(syncer, tenant_pod, super_pod)

    async def _create(self, syncer: tenant_module.TenantSyncer, tenant_pod: KubeObject) -> None:
        policy = isolation.of(syncer.tenant.spec)
        if found := security.violations(policy.pod_security, tenant_pod):
            await self._hold(syncer, tenant_pod, "PodSecurity", security.summary(found))
            return
        public_classes = self.engine.classes.public_names("PriorityClass")
        if (refusal := isolation.class_refusal(policy, tenant_pod, public_classes)) is not None:
            await self._hold(syncer, tenant_pod, "ClassNotGranted", refusal)
            return
        rules = self.placement(syncer)
        refusal = placement.refusal(rules, tenant_pod, self.engine.nodes.node_pools())
        if refusal is not None:
            await self._hold(syncer, tenant_pod, status.PLACEMENT_REFUSED, refusal)
            return

        namespace = tenant_pod["metadata"]["namespace"]
        await syncer.ensure_namespace(namespace)
        secret = await self.tokens.ensure(syncer, tenant_pod)
        server = urllib.parse.urlsplit(syncer.tenant.server)
        context = translate.PodContext(
            tenant=syncer.tenant,
            placement=rules,
            api_host=server.hostname or "",
            api_port=server.port or 443,
            token_secret=secret,
            dns=self.engine.dns.settings(),
        )
        super_pod = translate.super_pod(context, tenant_pod)
        capped = {
            pool["name"] for pool in syncer.tenant.spec.get("nodePools") or [] if pool.get("quota")
        }
        tenant_caps = isolation.pod_caps(policy)
        if not capped and not tenant_caps:
            await self._submit(syncer, super_pod)
            return

        # Quotas: one admission at a time per tenant, against a complete picture.
        if not self.engine.super_informers["Pod"].synced.is_set():
            syncer.engine.queue.add_later(syncer.tenant.key, ("Pod", _key(tenant_pod)), 1.0)
            return
        ledger = self.ledgers.setdefault(syncer.tenant.key, QuotaLedger())
        async with ledger.lock:
            pool = self._choose_pool(syncer, rules, tenant_pod, ledger) if capped else None
            need = quota.cost(tenant_pod)
            caps = quota.hard(syncer.tenant.spec, pool) if pool else {}
            short = quota.shortfall(
                tenant_caps,
                self._usage(syncer, None, ledger),
                need,
                scope="the cluster",
                fix="delete a pod, or have the super-cluster admin raise spec.isolation.quota",
            )
            if short is None and pool and caps:
                short = quota.shortfall(
                    caps,
                    self._usage(syncer, pool, ledger),
                    need,
                    scope=f"pool {pool}",
                    fix=f"delete a pod in {pool}, or raise spec.nodePools[{pool}].quota",
                )
            if short is not None:
                ledger.waiting.add(_key(tenant_pod))
                await self._hold(syncer, tenant_pod, "QuotaExceeded", short)
                return
            if pool:
                # Pinned to one pool, so that the pool's usage is a fact.
                super_pod["spec"].setdefault("nodeSelector", {})[rules.pool_label] = pool
            ledger.inflight[_key(tenant_pod)] = (pool or "", need)
            ledger.waiting.discard(_key(tenant_pod))

        # The reservation is counted; the create itself need not hold up the next admission.
        try:
            await self._submit(syncer, super_pod)
        except errors.ApiError:
            ledger.inflight.pop(_key(tenant_pod), None)
            raise

    async def _submit(self, syncer: tenant_module.TenantSyncer, super_pod: KubeObject) -> None:
        path = resources.PODS.path(super_pod["metadata"]["namespace"])
        with contextlib.suppress(errors.AlreadyExists):
            await self.engine.api.create(path, super_pod)
            metrics.SYNCED.labels(vc=syncer.tenant.key, kind="Pod").inc()

    def _choose_pool(
        self,
        syncer: tenant_module.TenantSyncer,
        rules: placement.Placement,
        tenant_pod: KubeObject,
        ledger: QuotaLedger,
    ) -> str | None:
        """The pod's pool: the one it names, the default, else the one with most room."""
        spec = tenant_pod.get("spec") or {}
        if chosen := (spec.get("nodeSelector") or {}).get(rules.pool_label):
            return str(chosen)
        if rules.default_pool:
            return rules.default_pool
        reachable = placement.reachable_pools(rules, spec)
        candidates = sorted(reachable) if reachable is not None else list(rules.allowed_pools)
        if not candidates:
            return None
        return max(
            candidates,
            key=lambda pool: quota.headroom(
                quota.hard(syncer.tenant.spec, pool), self._usage(syncer, pool, ledger)
            ),
        )

    def _usage(
        self, syncer: tenant_module.TenantSyncer, pool: str | None, ledger: QuotaLedger
    ) -> quota.Usage:
        """What the tenant uses in `pool` (None: everywhere): its super pods there, plus
        creations in flight."""
        uses: list[quota.PodUse] = self.engine.super_informers["Pod"].indexed_summaries(
            syncer.tenant.vc_uid
        )
        seen = {use.tenant_key for use in uses}
        for key in [key for key in ledger.inflight if key in seen]:
            del ledger.inflight[key]
        total = quota.used(use for use in uses if pool is None or use.pool == pool)
        for inflight_pool, need in ledger.inflight.values():
            if pool is None or inflight_pool == pool:
                total = quota.add(total, need)
        return total

    def _settle(self, syncer: tenant_module.TenantSyncer, key: str) -> None:
        """Drop the reservation of pod `key`: its super pod is in the cache, where quotas
        count it, or its tenant pod is gone. Waiting for `_usage` to see the super pod would
        keep it for ever when the pod came and went between two admissions."""
        if (ledger := self.ledgers.get(syncer.tenant.key)) is not None:
            ledger.inflight.pop(key, None)

    def _release(self, syncer: tenant_module.TenantSyncer) -> None:
        """Room may have freed: look again at every pod held back by a quota."""
        ledger = self.ledgers.get(syncer.tenant.key)
        for key in list(ledger.waiting) if ledger else []:
            syncer.enqueue("Pod", key)

    async def _update(
        self, syncer: tenant_module.TenantSyncer, tenant_pod: KubeObject, super_pod: KubeObject
    ) -> None:
        metadata = super_pod["metadata"]
        if (node := (super_pod.get("spec") or {}).get("nodeName")) and node not in syncer.vnodes:
            await self.engine.nodes.ensure(syncer, node)
        tenant_path = resources.PODS.path(
            tenant_pod["metadata"]["namespace"], tenant_pod["metadata"]["name"]
        )
        writes = []
        # The three touch different fields, so they go together: a pod that ran before its
        # item came up is bound and shown Running in one round trip.
        if (bind := status.binding(super_pod, tenant_pod)) is not None:
            writes.append(_quietly(syncer.api.create(f"{tenant_path}/binding", bind)))
        if (gates := status.super_gate_conditions(tenant_pod, super_pod)) is not None:
            # Readiness gates are set on the tenant pod; the super pod needs them too.
            super_path = resources.PODS.path(metadata["namespace"], metadata["name"], "status")
            writes.append(
                _quietly(self.engine.api.patch(super_path, {"status": {"conditions": gates}}))
            )
        if (tenant_status := status.tenant_status(super_pod, tenant_pod)) is not None:
            writes.append(
                _quietly(
                    syncer.api.patch(f"{tenant_path}/status", {"status": tenant_status}),
                    then=lambda written: syncer.wrote("Pod", written),
                )
            )
        await asyncio.gather(*writes)

        server = urllib.parse.urlsplit(syncer.tenant.server)
        context = translate.PodContext(
            tenant=syncer.tenant,
            placement=self.placement(syncer),
            api_host=server.hostname or "",
            api_port=server.port or 443,
            token_secret=None,
            dns=self.engine.dns.settings(),
        )
        change = translate.needs_update(translate.super_pod(context, tenant_pod), super_pod)
        if change is not None:
            with contextlib.suppress(errors.NotFound, errors.Invalid):
                await self.engine.api.patch(
                    resources.PODS.path(metadata["namespace"], metadata["name"]),
                    change,
                    patch_type="strategic",
                )
        await self.tokens.refresh(syncer, tenant_pod, metadata["namespace"])

    async def _lost(self, syncer: tenant_module.TenantSyncer, tenant_pod: KubeObject) -> None:
        """The super-cluster removed a pod that ran (evicted past the autonomy window, its
        node deleted…): like a kubelet, report it Failed so its controller replaces it."""
        message = (
            "the super-cluster removed this pod (its node was unreachable longer than "
            "spec.autonomy allows, or it was evicted); its controller will replace it"
        )
        await syncer.refuse(tenant_pod, "Evicted", message)
        metadata = tenant_pod["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await syncer.api.patch(
                resources.PODS.path(metadata["namespace"], metadata["name"], "status"),
                {"status": {"phase": "Failed", "reason": "Evicted", "message": message}},
            )

    async def _finish_deletion(
        self,
        syncer: tenant_module.TenantSyncer,
        tenant_pod: KubeObject,
        super_pod: KubeObject | None,
    ) -> None:
        if super_pod is not None:
            grace = tenant_pod["metadata"].get("deletionGracePeriodSeconds")
            await self._delete_super(super_pod, grace)
            return
        # The super pod is gone: confirm the deletion, as the tenant's kubelet would.
        metadata = tenant_pod["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await syncer.api.delete(
                resources.PODS.path(metadata["namespace"], metadata["name"]),
                uid=metadata["uid"],
                grace_period_seconds=0,
            )

    async def _delete_super(
        self,
        super_pod: KubeObject | None,
        grace: int | None = None,
    ) -> None:
        if super_pod is None or super_pod["metadata"].get("deletionTimestamp"):
            return
        metadata = super_pod["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self.engine.api.delete(
                resources.PODS.path(metadata["namespace"], metadata["name"]),
                uid=metadata["uid"],
                grace_period_seconds=grace,
            )

    def placement(self, syncer: tenant_module.TenantSyncer) -> placement.Placement:
        return placement.placement_of(
            syncer.tenant,
            dedicated_elsewhere=self.engine.dedicated.elsewhere(syncer.tenant),
            edge_pools=self.engine.nodes.edge_pools(),
        )

    async def _hold(
        self, syncer: tenant_module.TenantSyncer, tenant_pod: KubeObject, reason: str, message: str
    ) -> None:
        """The pod stays Pending in the tenant, with a condition and an Event saying why."""
        await syncer.refuse(tenant_pod, reason, message)
        current = (tenant_pod.get("status") or {}).get("conditions") or []
        if any(
            item.get("type") == status.SYNCED and item.get("message") == message for item in current
        ):
            return
        held = {**status.refused_condition(message), "reason": reason}
        others = [item for item in current if item.get("type") != status.SYNCED]
        metadata = tenant_pod["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await syncer.api.patch(
                resources.PODS.path(metadata["namespace"], metadata["name"], "status"),
                {"status": {"conditions": [*others, held]}},
            )


async def _quietly(
    write: Awaitable[KubeObject], then: Callable[[KubeObject], None] | None = None
) -> None:
    """One write that may meet a pod just deleted or bound by an earlier attempt; `then`
    gets what the server answered."""
    with contextlib.suppress(errors.NotFound, errors.Conflict):
        written = await write
        if then is not None:
            then(written)


def _finished(pod: KubeObject) -> bool:
    return (pod.get("status") or {}).get("phase") in quota.TERMINAL


def _key(pod: KubeObject) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
