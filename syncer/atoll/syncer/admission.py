"""Where a tenant's isolation policy meets the syncer's copying of plain objects.

`isolation` decides, from the spec and the objects it is shown; this module gathers what it
must be shown and acts on the answer for one `TenantSyncer`: it refuses objects that reach
beyond the tenant or its grants, admits Services and claims under the cluster's object quota
one at a time (counting creations the super-cluster cache has not seen yet, so concurrent
creations cannot overshoot), and keeps the isolation NetworkPolicy in each super namespace:
one shared watch (`Policies`) shows every such policy, so a namespace sync writes only when
its policy is missing or out of date, and a policy deleted or edited on the super-cluster
sends its namespace back to the queue to be put right. Pods have their own admission in
`podsync`.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from atoll.core.kube import errors, informer, resources
from atoll.syncer import isolation, kinds, mapping

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module
    from atoll.syncer import tenant as tenant_module

KubeObject = dict[str, Any]


class Admission:
    """One tenant's admissions of plain objects."""

    def __init__(self, syncer: tenant_module.TenantSyncer) -> None:
        self.syncer = syncer
        self.lock = asyncio.Lock()
        self.unseen: dict[str, dict[str, KubeObject]] = {}  # kind → tenant key → created

    def turn(self, kind: kinds.Kind) -> contextlib.AbstractAsyncContextManager[object]:
        """Kinds under the cluster's object quota are admitted one at a time."""
        caps = isolation.of(self.syncer.tenant.spec).quota
        if kind.name in isolation.QUOTA_KINDS and caps:
            return self.lock
        return contextlib.nullcontext()

    def created(self, kind: kinds.Kind, key: str, super_obj: KubeObject) -> None:
        """Count a creation until the super-cluster cache shows it."""
        if kind.name in isolation.QUOTA_KINDS:
            self.unseen.setdefault(kind.name, {})[key] = super_obj

    def refusal(self, kind: kinds.Kind, tenant_obj: KubeObject) -> tuple[str, str] | None:
        """(reason, message) when `spec.isolation` forbids this object on the super-cluster."""
        engine = self.syncer.engine
        policy = isolation.of(self.syncer.tenant.spec)
        if (message := isolation.reference_refusal(kind.name, tenant_obj)) is not None:
            return "NotAllowed", message
        if kind.resource is resources.PVCS:
            public = engine.classes.public_names("StorageClass")
            if (message := isolation.storage_class_refusal(policy, tenant_obj, public)) is not None:
                return "ClassNotGranted", message
        if kind.name not in isolation.QUOTA_KINDS or not policy.quota:
            return None

        # The tenant's super objects, plus those created but not yet in the cache.
        cached = engine.super_cache(kind.name)
        unseen = self.unseen.setdefault(kind.name, {})
        for key, created in list(unseen.items()):
            super_key = f"{created['metadata']['namespace']}/{created['metadata']['name']}"
            if super_key in cached:
                del unseen[key]
        owned = [*engine.owned_objects(kind.name, self.syncer.tenant.vc_uid), *unseen.values()]
        message = isolation.object_refusal(policy, kind.name, tenant_obj, owned)
        return ("QuotaExceeded", message) if message is not None else None


class Policies:
    """The isolation NetworkPolicies of every super namespace, watched once for all tenants."""

    def __init__(self, engine: engine_module.Engine) -> None:
        self.engine = engine
        self.source = informer.Informer(
            engine.api, kinds.NETWORK_POLICIES, label_selector=isolation.ISOLATES
        )

    def get(self, super_namespace: str) -> KubeObject | None:
        return self.source.cache.get(f"{super_namespace}/{isolation.NETWORK_POLICY_NAME}")

    async def run(self) -> None:
        """Send each change to a policy to its tenant, as the namespace it confines."""
        async for _event_type, policy in self.source.events():
            metadata = policy["metadata"]
            owner = self.engine.by_uid.get(
                (metadata.get("labels") or {}).get(isolation.ISOLATES, "")
            )
            namespace = self.engine.super_cache("Namespace").get(metadata.get("namespace", ""))
            tenant_namespace = ((namespace or {}).get("metadata", {}).get("annotations") or {}).get(
                mapping.TENANT_NAMESPACE
            )
            if owner is not None and tenant_namespace:
                owner.enqueue("Namespace", tenant_namespace)


async def confine(syncer: tenant_module.TenantSyncer, super_namespace: str) -> None:
    """Put the isolation NetworkPolicy in a super namespace (or bring it up to date), or
    take it away when isolation is off."""
    api = syncer.engine.api
    current = syncer.engine.policies.get(super_namespace)
    if (
        current is not None
        and (current["metadata"].get("labels") or {}).get(isolation.ISOLATES)
        != syncer.tenant.vc_uid
    ):
        return  # another tenant's: never touched (super namespaces are never shared)

    if isolation.of(syncer.tenant.spec).network_isolation:
        want = isolation.network_policy(syncer.tenant, super_namespace)
        if current is None:
            # A tenant NetworkPolicy of the same name may hold it: that one is the tenant's.
            with contextlib.suppress(errors.AlreadyExists):
                await api.create(kinds.NETWORK_POLICIES.path(super_namespace), want)
        elif current.get("spec") != want["spec"]:
            path = kinds.NETWORK_POLICIES.path(super_namespace, isolation.NETWORK_POLICY_NAME)
            with contextlib.suppress(errors.NotFound):
                await api.patch(path, {"spec": want["spec"]})
        return

    if current is not None:
        path = kinds.NETWORK_POLICIES.path(super_namespace, isolation.NETWORK_POLICY_NAME)
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await api.delete(path, uid=current["metadata"]["uid"])
