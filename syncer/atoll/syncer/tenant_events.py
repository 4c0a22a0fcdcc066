"""What the syncer tells a tenant: Events on its objects, and values only the super knows.

Events explain refusals and mirror the super-cluster's own Events about a tenant's pods and
services (scheduling, pulling, eviction…) into the tenant, under the tenant object's names.
A claim's status comes up from its super counterpart.
"""

from __future__ import annotations

import collections
import contextlib
import datetime
from typing import TYPE_CHECKING, Any

from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import mapping, volumes

if TYPE_CHECKING:
    from atoll.syncer import tenant as tenant_module

KubeObject = kube_client.KubeObject
TENANT_KEY_NAMESPACE = mapping.TENANT_NAMESPACE
COMPONENT = "atoll-syncer"
# What a mirrored Event takes from its super original (besides its name).
MIRRORED = (
    "type",
    "reason",
    "message",
    "count",
    "firstTimestamp",
    "lastTimestamp",
    "eventTime",
    "reportingComponent",
    "reportingInstance",
    "source",
    "action",
    "involvedObject",
)
_recent: collections.OrderedDict[tuple[str, str, str], None] = collections.OrderedDict()


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def record(
    syncer: tenant_module.TenantSyncer, obj: KubeObject, event_type: str, reason: str, message: str
) -> None:
    """One Event on a tenant object; the same reason and message are not repeated."""
    metadata = obj["metadata"]
    fingerprint = (metadata.get("uid", ""), reason, message)
    if fingerprint in _recent:
        return
    _recent[fingerprint] = None
    while len(_recent) > 10_000:
        _recent.popitem(last=False)

    namespace = metadata.get("namespace") or "default"
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"generateName": f"{metadata['name']}.", "namespace": namespace},
        "involvedObject": {
            "apiVersion": obj.get("apiVersion", "v1"),
            "kind": obj.get("kind"),
            "name": metadata["name"],
            "namespace": metadata.get("namespace"),
            "uid": metadata.get("uid"),
        },
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": _now(),
        "lastTimestamp": _now(),
        "count": 1,
    }
    syncer.log.warning(
        "refused",
        kind=obj.get("kind"),
        namespace=metadata.get("namespace"),
        name=metadata["name"],
        direction="down",
        reason=reason,
        message=message,
    )
    with contextlib.suppress(errors.ApiError):
        await syncer.api.create(resources.EVENTS.path(namespace), event)


async def mirror_event(
    syncer: tenant_module.TenantSyncer, super_event: KubeObject, tenant_obj: KubeObject
) -> None:
    """Copy a super-cluster Event about `tenant_obj`'s counterpart into the tenant."""
    tenant_metadata = tenant_obj["metadata"]
    namespace = tenant_metadata["namespace"]
    event: dict[str, Any] = {
        key: super_event[key] for key in MIRRORED if super_event.get(key) is not None
    }
    # Messages name the super namespace ("assigned <namespace>/<pod> to <node>"): the tenant
    # reads its own.
    super_namespace = (super_event.get("involvedObject") or {}).get("namespace")
    if super_namespace and event.get("message"):
        event["message"] = str(event["message"]).replace(super_namespace, namespace)
    event.update(
        apiVersion="v1",
        kind="Event",
        metadata={"name": super_event["metadata"]["name"], "namespace": namespace},
        involvedObject={
            **super_event.get("involvedObject", {}),
            "namespace": namespace,
            "name": tenant_metadata["name"],
            "uid": tenant_metadata.get("uid"),
            "resourceVersion": None,
        },
    )
    try:
        await syncer.api.create(resources.EVENTS.path(namespace), event)
    except errors.AlreadyExists:
        with contextlib.suppress(errors.ApiError):
            await syncer.api.patch(
                resources.EVENTS.path(namespace, event["metadata"]["name"]),
                {key: event.get(key) for key in ("count", "lastTimestamp", "message")},
            )
    except errors.ApiError:
        return


async def event_up(syncer: tenant_module.TenantSyncer, super_key: str) -> None:
    """Mirror the super Event `super_key` if it is about one of this tenant's objects."""
    super_event = syncer.engine.pending_events.pop(super_key, None)
    if super_event is None:
        return
    involved = super_event.get("involvedObject") or {}
    kind_name = involved.get("kind")
    if kind_name not in ("Pod", "Service"):
        return
    # The super object may be gone already (an eviction): its namespace says whose it was.
    super_namespace = syncer.engine.super_cache("Namespace").get(involved.get("namespace", ""))
    tenant_namespace = ((super_namespace or {}).get("metadata", {}).get("annotations") or {}).get(
        TENANT_KEY_NAMESPACE
    )
    if tenant_namespace is None:
        return
    tenant_obj = syncer.informers[kind_name].cache.get(f"{tenant_namespace}/{involved.get('name')}")
    if tenant_obj is not None:
        await mirror_event(syncer, super_event, tenant_obj)


async def claim_status_up(
    syncer: tenant_module.TenantSyncer, tenant_claim: KubeObject, super_claim: KubeObject
) -> None:
    """The tenant claim shows the super claim's phase and capacity.

    Bound is the tenant binder's to say, once it has bound the claim to the volume brought
    up (see `volumes`): said before, or of a claim naming another volume, the binder would
    set the claim Pending or Lost again.
    """
    wanted = {
        key: value
        for key, value in (super_claim.get("status") or {}).items()
        if key in ("phase", "accessModes", "capacity")
    }
    bound_to = (tenant_claim.get("spec") or {}).get("volumeName")
    if wanted.get("phase") == "Bound" and bound_to != volumes.bound_volume_name(super_claim):
        return
    current = tenant_claim.get("status") or {}
    if not wanted or all(current.get(key) == value for key, value in wanted.items()):
        return
    metadata = tenant_claim["metadata"]
    with contextlib.suppress(errors.NotFound, errors.Conflict):
        await syncer.api.patch(
            resources.PVCS.path(metadata["namespace"], metadata["name"], "status"),
            {"status": wanted},
        )
