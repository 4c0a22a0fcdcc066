"""The Kopf handlers: when to reconcile a VirtualCluster, and what to do with the outcome.

They hold no logic of their own: create, update, resume and a periodic health timer all run
`reconciler.reconcile` under a per-object lock (a timer and a handler never act on one object
at once), delete runs `reconciler.remove` behind the finalizer, and a changed ClusterVersion
nudges the VirtualClusters that use it.
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import kopf

from atoll.core import api as atoll_api
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors
from atoll.operator import reconciler

GROUP, VERSION = atoll_api.GROUP, atoll_api.VERSION
HEALTH_INTERVAL = 30.0
NUDGE_ANNOTATION = "atoll.dev/cluster-version-generation"

_locks: collections.defaultdict[str, asyncio.Lock] = collections.defaultdict(asyncio.Lock)


def _context(memo: kopf.Memo) -> reconciler.Context:
    context: reconciler.Context = memo["context"]
    return context


def _plain(body: kopf.Body) -> dict[str, Any]:
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": dict(body.metadata),
        "spec": dict(body.spec),
        "status": dict(body.status),
    }


async def _reconcile(body: kopf.Body, memo: kopf.Memo) -> None:
    async with _locks[body.metadata.uid or ""]:
        outcome = await reconciler.reconcile(_plain(body), _context(memo))
    if outcome.retry_after is not None:
        raise kopf.TemporaryError(f"phase {outcome.phase}", delay=outcome.retry_after)


@kopf.on.resume(GROUP, VERSION, "virtualclusters")
@kopf.on.create(GROUP, VERSION, "virtualclusters")
@kopf.on.update(GROUP, VERSION, "virtualclusters")
async def virtualcluster_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    await _reconcile(body, memo)


@kopf.timer(
    GROUP,
    VERSION,
    "virtualclusters",
    interval=HEALTH_INTERVAL,
    initial_delay=10,
    when=lambda body, **_: not body.metadata.get("deletionTimestamp"),
)
async def virtualcluster_health(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Restart what crashed, renew what is due, retry what failed."""
    if _locks[body.metadata.uid or ""].locked():
        return
    try:
        await _reconcile(body, memo)
    except kopf.TemporaryError:
        return


@kopf.on.delete(GROUP, VERSION, "virtualclusters")
async def virtualcluster_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    async with _locks[body.metadata.uid or ""]:
        finished = await reconciler.remove(_plain(body), _context(memo))
    if not finished:
        raise kopf.TemporaryError("waiting for the tenant's namespaces to go", delay=2)
    _locks.pop(body.metadata.uid or "", None)


@kopf.on.update(GROUP, VERSION, "clusterversions", field="spec")
async def cluster_version_changed(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    """Every VirtualCluster using this version gets reconciled (and rolled) right away."""
    api: kube_client.Client = _context(memo).api
    listing = await api.get(atoll_api.VIRTUALCLUSTERS.path())
    for vc in listing["items"]:
        wanted = (vc.get("spec") or {}).get("clusterVersion") or "default"
        if wanted != body.metadata.name:
            continue
        metadata = vc["metadata"]
        patch = {
            "metadata": {"annotations": {NUDGE_ANNOTATION: str(body.metadata.get("generation"))}}
        }
        try:
            await api.patch(
                atoll_api.VIRTUALCLUSTERS.path(metadata["namespace"], metadata["name"]), patch
            )
        except errors.NotFound:
            continue


@kopf.on.probe(id="virtualclusters")
def count_locks(**_: Any) -> int:
    return len(_locks)
