"""`atoll describe`: one VirtualCluster in full, the way `kubectl describe` shows an object.

A summary of the spec, then what the operator and syncer report in status (phase,
conditions, endpoints, node pools with quota usage, synced objects), then the latest Events
about the VirtualCluster. `render` is pure, so the layout is tested without a cluster.
"""

from __future__ import annotations

import datetime
import pathlib
from collections.abc import Sequence
from typing import Any

import click

from atoll.cli import connection, output, virtualclusters
from atoll.core.kube import client as kube_client
from atoll.core.kube import resources

KubeObject = kube_client.KubeObject
NONE = "<none>"


def age(timestamp: str | None, now: datetime.datetime) -> str:
    """How long ago, as kubectl says it: 45s, 12m, 5h, 3d."""
    if not timestamp:
        return "<unknown>"
    then = datetime.datetime.fromisoformat(timestamp)
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size, limit in (("s", 1, 120), ("m", 60, 120 * 60), ("h", 3600, 48 * 3600)):
        if seconds < limit:
            return f"{seconds // size}{unit}"
    return f"{seconds // 86400}d"


def _pools(spec: KubeObject) -> str:
    granted = spec.get("nodePools") or []
    if not granted:
        return "any pool not dedicated to another VirtualCluster"
    names = []
    for pool in granted:
        notes = [
            note
            for note, applies in (
                ("default", pool["name"] == spec.get("defaultNodePool")),
                ("dedicated", pool.get("dedicated")),
                ("quota", pool.get("quota")),
            )
            if applies
        ]
        names.append(pool["name"] + (f" ({', '.join(notes)})" if notes else ""))
    return ", ".join(names)


def _autonomy(spec: KubeObject) -> str:
    autonomy = spec.get("autonomy") or {}
    if autonomy.get("unlimited"):
        return "edge pods stay bound to a dark node without limit"
    return f"edge pods stay bound to a dark node for {autonomy.get('tolerationSeconds', 86400)} s"


def _sync(spec: KubeObject) -> str:
    sync = spec.get("sync") or {}
    kinds = ("ingresses", "networkPolicies", "podDisruptionBudgets")
    extra = ", ".join(kind for kind in kinds if sync.get(kind)) or "no optional kinds"
    return f"node view {sync.get('nodeView', 'used')}; {extra}"


def _fields(rows: Sequence[tuple[str, object]], indent: int = 0) -> list[str]:
    width = max(len(label) for label, _ in rows) + 3
    return [
        f"{' ' * indent}{label + ':':<{width}}{value if value not in (None, '') else NONE}"
        for label, value in rows
    ]


def _section(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    if not rows:
        return [f"{title}:  {NONE}"]
    return [f"{title}:", *output.columns(headers, rows, indent=2)]


def _summary(vc: KubeObject, now: datetime.datetime) -> list[str]:
    metadata, spec, status = vc["metadata"], vc.get("spec") or {}, vc.get("status") or {}
    control_plane = spec.get("controlPlane") or {}
    datastore = control_plane.get("datastore") or {}
    secret = status.get("kubeconfigSecretRef") or {}
    created = metadata.get("creationTimestamp")
    connect = f"`atoll connect {metadata['name']} -n {metadata['namespace']}`"
    return [
        *_fields(
            [
                ("Name", metadata["name"]),
                ("Namespace", metadata["namespace"]),
                ("UID", metadata.get("uid")),
                ("Created", f"{created} ({age(created, now)} ago)" if created else None),
            ]
        ),
        "Spec:",
        *_fields(
            [
                ("Cluster version", spec.get("clusterVersion", "default")),
                ("Provisioner", control_plane.get("provisioner") or "the operator's default"),
                (
                    "Datastore",
                    f"{datastore.get('type', 'etcd')}/{datastore.get('mode', 'dedicated')}",
                ),
                ("Node pools", _pools(spec)),
                ("Autonomy", _autonomy(spec)),
                ("Sync", _sync(spec)),
                ("Paused", "yes" if spec.get("paused") else "no"),
                ("Deletion policy", spec.get("deletionPolicy", "Delete")),
            ],
            indent=2,
        ),
        "Status:",
        *_fields(
            [
                ("Phase", status.get("phase") or "Pending"),
                ("Version", status.get("version")),
                ("Provisioner", status.get("provisioner")),
                ("Datastore", status.get("datastore")),
                (
                    "Observed generation",
                    f"{status.get('observedGeneration', '-')} of {metadata.get('generation', '-')}",
                ),
            ],
            indent=2,
        ),
        "Endpoints:",
        *_fields(
            [
                ("API server", status.get("controlPlaneEndpoint")),
                (
                    "Kubeconfig",
                    f"Secret {secret['name']}, key {secret.get('key', 'value')} ({connect})"
                    if secret.get("name")
                    else None,
                ),
                ("Cluster namespace", status.get("clusterNamespace")),
            ],
            indent=2,
        ),
    ]


def render(vc: KubeObject, events: Sequence[KubeObject], now: datetime.datetime) -> list[str]:
    """The describe text of a VirtualCluster and its Events, line by line."""
    status = vc.get("status") or {}
    conditions = [
        (
            item.get("type"),
            item.get("status"),
            item.get("reason"),
            age(item.get("lastTransitionTime"), now),
            item.get("message", ""),
        )
        for item in status.get("conditions") or []
    ]
    event_rows = [
        (
            event.get("type", ""),
            event.get("reason", ""),
            age(_when(event), now)
            + (f" (x{event['count']})" if (event.get("count") or 1) > 1 else ""),
            (event.get("source") or {}).get("component") or event.get("reportingComponent", ""),
            event.get("message", ""),
        )
        for event in events
    ]
    return [
        *_summary(vc, now),
        *_section("Conditions", ("type", "status", "reason", "age", "message"), conditions),
        *_section("Node pools", virtualclusters.POOL_HEADERS, virtualclusters.pool_rows(status)),
        *_section(
            "Synced objects", ("kind", "count"), sorted((status.get("syncedObjects") or {}).items())
        ),
        *_section("Events", ("type", "reason", "age", "from", "message"), event_rows),
    ]


def _when(event: KubeObject) -> str | None:
    found: str | None = (
        event.get("lastTimestamp")
        or event.get("eventTime")
        or event["metadata"].get("creationTimestamp")
    )
    return found


def latest(events: Sequence[KubeObject], count: int) -> list[KubeObject]:
    """The `count` most recent Events, oldest first, as kubectl lists them."""
    ordered = sorted(events, key=lambda event: _when(event) or "")
    return ordered[-count:] if count > 0 else []


async def _read(api: kube_client.Client, namespace: str, name: str) -> tuple[KubeObject, list[Any]]:
    vc = await connection.read_vc(api, namespace, name)
    selector = (
        f"involvedObject.kind=VirtualCluster,involvedObject.name={name},"
        f"involvedObject.uid={vc['metadata']['uid']}"
    )
    listing = await api.get(resources.EVENTS.path(namespace), params={"fieldSelector": selector})
    return vc, listing.get("items") or []


@click.command()
@connection.NAME_ARGUMENT
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@click.option(
    "--events",
    "event_count",
    default=20,
    show_default=True,
    type=click.IntRange(0),
    help="How many of the latest Events to show.",
)
@output.FORMAT_OPTION
def describe(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    event_count: int,
    output_format: output.OutputFormat,
) -> None:
    """Show a VirtualCluster in full, with its latest Events.

    Spec summary, phase, conditions, endpoints, node pools with quota usage, synced objects
    and Events, like `kubectl describe`.
    """
    target = connection.resolve(kubeconfig, context)
    vc, events = connection.run_api(target, lambda api: _read(api, namespace, name))
    recent = latest(events, event_count)
    if output_format != "table":
        output.data({"virtualCluster": vc, "events": recent}, output_format)
        return
    for line in render(vc, recent, datetime.datetime.now(datetime.UTC)):
        click.echo(line)
