"""What must hold once atoll has converged after a fault, and the faults' own small helpers.

Fault tests (components killed, API servers restarted or frozen) run operations on tenants,
then wait for `wait_for_invariants`, which polls `check_invariants` until it holds:

- every tenant object of a synced kind has exactly one super counterpart, owned by its
  VirtualCluster and recording the tenant object's uid;
- no super object of a synced kind lacks a live owner: its tenant object (or, for a
  token Secret, its tenant namespace) exists, and so does its VirtualCluster;
- nothing the test made is lost, nothing it deleted comes back, Deployments are at the
  scale the test set, with every replica ready;
- each tracked VirtualCluster is in the phase the test expects, with sane conditions, one
  control plane (no duplicate processes) and one set of PKI Secrets.

Every violation is listed, not just the first, so a failure says everything that is off.
"""

from __future__ import annotations

import collections
import dataclasses
import os
import pathlib
import signal
from collections.abc import Iterable, Sequence
from typing import Any

from atoll.core import api as atoll_api
from atoll.core import naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.local import process
from atoll.syncer import mapping
from support import cluster as support_cluster
from support import tenants, vcs

KubeObject = kube_client.KubeObject
Ref = tuple[str, str, str]  # kind, tenant namespace ("" for a Namespace), name

SYNCED_KINDS: dict[str, resources.Resource] = {
    "Namespace": resources.NAMESPACES,
    "Pod": resources.PODS,
    "ConfigMap": resources.CONFIGMAPS,
    "Secret": resources.SECRETS,
    "Service": resources.SERVICES,
    "ServiceAccount": resources.SERVICEACCOUNTS,
}
TRACKED_KINDS: dict[str, resources.Resource] = {
    **SYNCED_KINDS,
    "Deployment": resources.DEPLOYMENTS,
}
TERMINAL_PHASES = ("Succeeded", "Failed")
CONTROL_PLANE_PROCESSES = 3  # datastore, kube-apiserver, kube-controller-manager
PKI_SECRETS = ["atoll-ca", "atoll-certs"]


@dataclasses.dataclass
class TrackedTenant:
    """One tenant under test, and what the test expects to find in it."""

    pair: tenants.TenantPair
    present: set[Ref] = dataclasses.field(default_factory=set)
    absent: set[Ref] = dataclasses.field(default_factory=set)
    replicas: dict[tuple[str, str], int] = dataclasses.field(default_factory=dict)
    paused: bool = False

    @property
    def name(self) -> str:
        return self.pair.tenant.key

    def made(self, ref: Ref) -> None:
        self.present.add(ref)
        self.absent.discard(ref)

    def removed(self, ref: Ref) -> None:
        self.present.discard(ref)
        self.absent.add(ref)
        if ref[0] == "Deployment":
            self.replicas.pop((ref[1], ref[2]), None)


@dataclasses.dataclass(frozen=True)
class Report:
    """What a passing check looked at."""

    tenant_objects: int
    super_objects: int


def synced_by_atoll(kind: str, tenant_obj: KubeObject) -> bool:
    """Whether the syncer copies this tenant object down (see `atoll.syncer.kinds`)."""
    name = tenant_obj["metadata"]["name"]
    if kind == "ConfigMap":
        return bool(name != "kube-root-ca.crt")
    if kind == "Secret":
        return bool(tenant_obj.get("type") != "kubernetes.io/service-account-token")
    if kind == "ServiceAccount":
        return bool(name != "default")
    return True


async def check_invariants(api: kube_client.Client, tracked: Sequence[TrackedTenant]) -> Report:
    """Raise AssertionError listing every violated invariant; else say what was checked."""
    problems, report = await violations(api, tracked)
    if problems:
        shown = "\n  ".join(problems[:40])
        more = f"\n  … and {len(problems) - 40} more" if len(problems) > 40 else ""
        raise AssertionError(f"{len(problems)} invariant violations:\n  {shown}{more}")
    return report


async def wait_for_invariants(
    api: kube_client.Client, tracked: Sequence[TrackedTenant], *, timeout: float = 120
) -> Report:
    """Wait until every invariant holds; on timeout, fail with what still does not."""

    async def holding() -> Report | None:
        try:
            problems, report = await violations(api, tracked)
        except errors.ApiError as error:
            # A super API server coming back may drop a pooled connection or two.
            if not errors.is_retryable(error):
                raise
            return None
        return None if problems else report

    try:
        return await wait.until(holding, timeout=timeout, what="atoll to converge", interval=1.0)
    except TimeoutError:
        return await check_invariants(api, tracked)


async def violations(
    api: kube_client.Client, tracked: Sequence[TrackedTenant]
) -> tuple[list[str], Report]:
    problems: list[str] = []
    live_vcs = {
        vc["metadata"]["uid"]: vc
        for vc in (await api.get(atoll_api.VIRTUALCLUSTERS.path()))["items"]
    }
    supers = {kind: await _super_objects(api, resource) for kind, resource in SYNCED_KINDS.items()}
    problems += _orphans_of_gone_clusters(supers, live_vcs)
    tenant_count = 0
    for one in tracked:
        vc = live_vcs.get(one.pair.tenant.vc_uid)
        if vc is None:
            problems.append(f"{one.name}: the VirtualCluster is gone")
            continue
        problems += await _control_plane(api, one, vc)
        if one.paused:
            continue
        try:
            tenant_side = {
                kind: await _tenant_objects(one.pair.api, resource)
                for kind, resource in TRACKED_KINDS.items()
            }
        except errors.ApiError as error:
            problems.append(f"{one.name}: tenant API server unreachable: {error}")
            continue
        tenant_count += sum(len(items) for items in tenant_side.values())
        problems += _counterparts(one, tenant_side, supers)
        problems += _owners(one, tenant_side, supers)
        problems += _expectations(one, tenant_side)
    return problems, Report(
        tenant_objects=tenant_count, super_objects=sum(len(items) for items in supers.values())
    )


async def _super_objects(api: kube_client.Client, resource: resources.Resource) -> list[KubeObject]:
    listing = await api.get(resource.path(), params={"labelSelector": naming.VC_UID})
    return list(listing["items"])


async def _tenant_objects(
    client: kube_client.Client, resource: resources.Resource
) -> dict[tuple[str, str], KubeObject]:
    listing = await client.get(resource.path())
    return {
        (item["metadata"].get("namespace", ""), item["metadata"]["name"]): item
        for item in listing["items"]
    }


def _terminating(obj: KubeObject | None) -> bool:
    return bool(obj and obj["metadata"].get("deletionTimestamp"))


def _orphans_of_gone_clusters(
    supers: dict[str, list[KubeObject]], live_vcs: dict[str, KubeObject]
) -> list[str]:
    """Super objects labelled for a VirtualCluster that no longer exists."""
    # Namespaces going away, and those kept on purpose (`deletionPolicy: Retain`).
    terminating_namespaces = {
        item["metadata"]["name"]
        for item in supers["Namespace"]
        if _terminating(item)
        or (item["metadata"].get("labels") or {}).get(naming.RETAINED) == "true"
    }
    problems = []
    for kind, items in supers.items():
        for item in items:
            metadata = item["metadata"]
            if mapping.vc_uid_of(item) in live_vcs or _terminating(item):
                continue
            if kind == "Namespace" and metadata["name"] in terminating_namespaces:
                continue
            if metadata.get("namespace") in terminating_namespaces:
                continue
            problems.append(
                f"orphan {kind} {metadata.get('namespace', '')}/{metadata['name']}: its "
                f"VirtualCluster {mapping.vc_uid_of(item)} is gone"
            )
    return problems


async def _control_plane(api: kube_client.Client, one: TrackedTenant, vc: KubeObject) -> list[str]:
    """Phase, conditions, one control plane and one set of PKI Secrets."""
    problems = []
    status = vc.get("status") or {}
    generation = vc["metadata"].get("generation")
    wanted_phase = "Paused" if one.paused else "Running"
    if status.get("phase") != wanted_phase:
        problems.append(f"{one.name}: phase {status.get('phase')}, expected {wanted_phase}")
    if status.get("observedGeneration") != generation:
        problems.append(
            f"{one.name}: observedGeneration {status.get('observedGeneration')} != {generation}"
        )
    by_type = {item["type"]: item for item in status.get("conditions") or []}
    ready = by_type.get("Ready", {})
    if (ready.get("status") == "True") == one.paused:
        problems.append(f"{one.name}: Ready is {ready.get('status')} ({ready.get('reason')})")
    if not one.paused:
        synced = by_type.get("Synced", {})
        if synced.get("status") != "True":
            problems.append(
                f"{one.name}: Synced is {synced.get('status')} ({synced.get('reason')}: "
                f"{synced.get('message')})"
            )
        if status.get("controlPlaneEndpoint") != one.pair.tenant.server:
            problems.append(
                f"{one.name}: endpoint moved from {one.pair.tenant.server} to "
                f"{status.get('controlPlaneEndpoint')}"
            )

    running = vcs.tenant_processes(one.pair.tenant.vc_uid)
    wanted_processes = 0 if one.paused else CONTROL_PLANE_PROCESSES
    if len(running) != wanted_processes:
        problems.append(
            f"{one.name}: {len(running)} control-plane processes, expected {wanted_processes}"
        )
    cluster_namespace = status.get("clusterNamespace") or one.pair.tenant.root
    secrets = await api.get(resources.SECRETS.path(cluster_namespace))
    names = sorted(item["metadata"]["name"] for item in secrets["items"])
    if names != PKI_SECRETS:
        problems.append(f"{one.name}: control-plane Secrets {names}, expected {PKI_SECRETS}")
    return problems


def _counterparts(
    one: TrackedTenant,
    tenant_side: dict[str, dict[tuple[str, str], KubeObject]],
    supers: dict[str, list[KubeObject]],
) -> list[str]:
    """Every synced tenant object has exactly one super object, ours, at the mapped name."""
    tenant = one.pair.tenant
    problems = []
    for kind in SYNCED_KINDS:
        ours = [item for item in supers[kind] if mapping.owned_by(item, tenant)]
        by_uid = collections.Counter(mapping.tenant_uid_of(item) for item in ours)
        by_key = {
            (item["metadata"].get("namespace", ""), item["metadata"]["name"]): item for item in ours
        }
        for (namespace, name), tenant_obj in tenant_side[kind].items():
            if not _expects_counterpart(kind, tenant_obj, tenant_side):
                continue
            uid = tenant_obj["metadata"]["uid"]
            where = (
                ("", mapping.super_namespace(tenant, name))
                if kind == "Namespace"
                else (mapping.super_namespace(tenant, namespace), name)
            )
            super_obj = by_key.get(where)
            label = f"{one.name}: {kind} {namespace}/{name}"
            if super_obj is None:
                problems.append(f"{label} has no super counterpart at {'/'.join(where)}")
            elif mapping.tenant_uid_of(super_obj) != uid:
                problems.append(
                    f"{label}: its super object records another uid, "
                    f"{mapping.tenant_uid_of(super_obj)}"
                )
            elif by_uid[uid] != 1:
                problems.append(f"{label} has {by_uid[uid]} super counterparts")
    return problems


def _expects_counterpart(
    kind: str, tenant_obj: KubeObject, tenant_side: dict[str, dict[tuple[str, str], KubeObject]]
) -> bool:
    metadata = tenant_obj["metadata"]
    namespace = tenant_side["Namespace"].get(("", metadata.get("namespace", "")))
    if _terminating(tenant_obj) or _terminating(namespace):
        return False
    if kind == "Pod" and (tenant_obj.get("status") or {}).get("phase") in TERMINAL_PHASES:
        return False  # a pod that ran to its end is never started again
    return synced_by_atoll(kind, tenant_obj)


def _owners(
    one: TrackedTenant,
    tenant_side: dict[str, dict[tuple[str, str], KubeObject]],
    supers: dict[str, list[KubeObject]],
) -> list[str]:
    """Every super object of this tenant stands for a live tenant object (no orphans)."""
    tenant = one.pair.tenant
    live_namespaces = {
        name for (_, name), item in tenant_side["Namespace"].items() if not _terminating(item)
    }
    problems = []
    for kind in SYNCED_KINDS:
        for super_obj in supers[kind]:
            if not mapping.owned_by(super_obj, tenant) or _terminating(super_obj):
                continue
            metadata = super_obj["metadata"]
            annotations = metadata.get("annotations") or {}
            label = f"{one.name}: super {kind} {metadata.get('namespace', '')}/{metadata['name']}"
            if mapping.TENANT_NAME not in annotations:
                # Not a copy: the control plane's own namespace and Secrets, token Secrets.
                tenant_namespace = annotations.get(mapping.TENANT_NAMESPACE)
                if tenant_namespace is not None and tenant_namespace not in live_namespaces:
                    problems.append(f"{label} outlives tenant namespace {tenant_namespace}")
                continue
            owner_key = (
                "" if kind == "Namespace" else annotations.get(mapping.TENANT_NAMESPACE, ""),
                annotations[mapping.TENANT_NAME],
            )
            owner = tenant_side[kind].get(owner_key)
            if owner is None or _terminating(owner):
                problems.append(f"{label} is an orphan: tenant {'/'.join(owner_key)} is gone")
            elif owner["metadata"]["uid"] != mapping.tenant_uid_of(super_obj):
                problems.append(f"{label} stands for an older tenant object of that name")
            elif not synced_by_atoll(kind, owner):
                problems.append(f"{label} copies an object the syncer must leave alone")
    return problems


def _expectations(
    one: TrackedTenant, tenant_side: dict[str, dict[tuple[str, str], KubeObject]]
) -> list[str]:
    """Nothing the test made is lost; nothing it deleted is back; scale is as set."""
    problems = []
    for kind, namespace, name in sorted(one.present):
        found = tenant_side[kind].get((namespace, name))
        if found is None or _terminating(found):
            problems.append(f"{one.name}: {kind} {namespace}/{name} was lost")
    for kind, namespace, name in sorted(one.absent):
        if (namespace, name) in tenant_side[kind]:
            problems.append(f"{one.name}: deleted {kind} {namespace}/{name} is still there")
    pods_by_app: collections.Counter[tuple[str, str]] = collections.Counter()
    for (namespace, _), pod in tenant_side["Pod"].items():
        app = (pod["metadata"].get("labels") or {}).get("app")
        if app is not None:
            pods_by_app[(namespace, app)] += 1
    for (namespace, name), wanted in sorted(one.replicas.items()):
        deployment = tenant_side["Deployment"].get((namespace, name))
        status: dict[str, Any] = (deployment or {}).get("status") or {}
        ready = status.get("readyReplicas", 0)
        if deployment is None or deployment["spec"]["replicas"] != wanted or ready != wanted:
            problems.append(
                f"{one.name}: Deployment {namespace}/{name} has {ready} ready replicas, "
                f"expected {wanted}"
            )
        if pods_by_app[(namespace, name)] != wanted:
            problems.append(
                f"{one.name}: Deployment {namespace}/{name} has "
                f"{pods_by_app[(namespace, name)]} pods, expected {wanted}"
            )
    return problems


def refs(kind: str, namespace: str, names: Iterable[str]) -> set[Ref]:
    return {(kind, namespace, name) for name in names}


# Faults: killing a component of the super-cluster, and knowing it is back.


def kill_component(super_cluster: support_cluster.SuperCluster, component: str) -> int | None:
    """SIGKILL `component` if it runs now; its pid, or None when it was not running."""
    status = super_cluster.folder.read_status()
    pid = status.pids.get(component) if status is not None else None
    if pid is None or not process.pid_alive(pid):
        return None
    # Pids are reused: kill only a process that still runs this component's program.
    if not _runs(process.command_line(pid), component):
        return None
    os.kill(pid, signal.SIGKILL)
    return pid


async def component_back(
    super_cluster: support_cluster.SuperCluster, component: str, old_pid: int, timeout: float = 90
) -> int:
    """Wait until the supervisor runs `component` again, under a new pid, and reports ready."""

    async def restarted() -> int | None:
        status = super_cluster.folder.read_status()
        if status is None or status.phase != "ready":
            return None
        pid = status.pids.get(component)
        return pid if pid not in (None, old_pid) and process.pid_alive(pid) else None

    return await wait.until(restarted, timeout=timeout, what=f"{component} to be restarted")


def _runs(argv: list[str], component: str) -> bool:
    if component == "atoll-operator":
        return "atoll.cli" in argv and "operator" in argv
    return bool(argv) and pathlib.PurePath(argv[0]).name == component


async def tenant_answers(one: TrackedTenant, timeout: float = 60) -> None:
    """Wait until the tenant API server answers (again): after a resume or a restart."""

    async def answering() -> bool:
        try:
            await one.pair.api.version()
        except errors.ApiError:
            return False
        return True

    await wait.until(answering, timeout=timeout, what=f"{one.name}'s API server to answer")
