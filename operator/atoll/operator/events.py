"""Kubernetes Events on VirtualClusters: what the operator did, and what went wrong.

`kubectl describe vc NAME` shows them. Each step that changes something and every failure
posts one; a step repeated without effect posts nothing, so the list stays readable.
"""

from __future__ import annotations

import contextlib
import datetime
import uuid
from typing import Any, Literal

import structlog

from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources

log = structlog.get_logger("atoll.events")

EventType = Literal["Normal", "Warning"]
COMPONENT = "atoll-operator"


async def record(
    api: kube_client.Client, obj: dict[str, Any], event_type: EventType, reason: str, message: str
) -> None:
    """Post an Event about `obj`; a failure to post is logged, never raised."""
    metadata = obj["metadata"]
    moment = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    event = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {
            "name": f"{metadata['name']}.{uuid.uuid4().hex[:12]}",
            "namespace": metadata["namespace"],
        },
        "involvedObject": {
            "apiVersion": obj.get("apiVersion"),
            "kind": obj.get("kind"),
            "name": metadata["name"],
            "namespace": metadata["namespace"],
            "uid": metadata["uid"],
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "type": event_type,
        "reason": reason,
        "message": message[:1024],
        "source": {"component": COMPONENT},
        "reportingComponent": COMPONENT,
        "reportingInstance": COMPONENT,
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "count": 1,
    }
    log.log(
        30 if event_type == "Warning" else 20,
        "event",
        vc=metadata["name"],
        namespace=metadata["namespace"],
        kind=obj.get("kind"),
        reason=reason,
        message=message,
    )
    with contextlib.suppress(errors.ApiError):
        await api.create(resources.EVENTS.path(metadata["namespace"]), event)
