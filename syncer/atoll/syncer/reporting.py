"""What the syncer reports on each VirtualCluster: the `Synced` condition and object counts.

Every few seconds, for each tenant it serves, the syncer writes `status.syncedObjects` (super
objects per kind) and a `Synced` condition: True once the tenant's objects are all brought
down, False with reason `TenantUnreachable` while the tenant API server does not answer (the
syncer keeps retrying with backoff and catches up when it returns). It writes only when
something changed, with the object's resourceVersion, so the operator's own writes win a race
and the next round re-applies.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import TYPE_CHECKING, Any

from atoll.core import api as atoll_api
from atoll.core import conditions
from atoll.core.kube import errors

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module
    from atoll.syncer import tenant as tenant_module

SYNCED = "Synced"
INTERVAL = 10.0


async def report_forever(engine: engine_module.Engine) -> None:
    while True:
        await asyncio.sleep(INTERVAL)
        for syncer in list(engine.tenants.values()):
            with contextlib.suppress(errors.ApiError):
                await report(engine, syncer)


def counts(engine: engine_module.Engine, syncer: tenant_module.TenantSyncer) -> dict[str, int]:
    result: collections.Counter[str] = collections.Counter()
    for kind_name in engine.super_informers:
        result[kind_name] = engine.owned_count(kind_name, syncer.tenant.vc_uid)
    return {kind_name: count for kind_name, count in sorted(result.items()) if count}


async def report(engine: engine_module.Engine, syncer: tenant_module.TenantSyncer) -> None:
    path = atoll_api.VIRTUALCLUSTERS.path(syncer.tenant.vc_namespace, syncer.tenant.vc_name)
    vc = await engine.api.get(path)
    status: dict[str, Any] = vc.get("status") or {}
    if not syncer.healthy:
        state, reason = "False", "TenantUnreachable"
        message = f"the tenant API server does not answer; retrying: {syncer.last_error[:300]}"
    elif not syncer.synced.is_set():
        state, reason, message = "False", "Starting", "reading the tenant's objects"
    else:
        depth = engine.queue.depth(syncer.tenant.key)
        state, reason = "True", "InSync"
        message = f"all objects brought down; {depth} changes queued"
    wanted_conditions = conditions.set_condition(
        status.get("conditions") or [],
        SYNCED,
        state,  # type: ignore[arg-type]
        reason=reason,
        message=message,
        generation=int(vc["metadata"].get("generation", 1)),
    )
    objects = counts(engine, syncer)
    if wanted_conditions == status.get("conditions") and objects == status.get("syncedObjects"):
        return
    # A replace with the resourceVersion: if the operator wrote meanwhile, this one loses.
    vc["status"] = {**status, "conditions": wanted_conditions, "syncedObjects": objects}
    with contextlib.suppress(errors.Conflict, errors.NotFound):
        await engine.api.replace(f"{path}/status", vc)
