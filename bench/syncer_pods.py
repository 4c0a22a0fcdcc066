"""How the syncer carries pods: throughput, latency, memory, resync after a crash, fairness.

Everything runs on ONE fresh local super-cluster (pools cloud:2,edge-a:4,edge-b:4, nodes
of 500 pods) with N VirtualClusters created with `spec: {}` (process provisioner); every pod
is bare, image busybox, named uniquely, created with the same bounded concurrency.

  throughput  P pods straight into a plain super namespace (the BASELINE: no syncer), then
              P pods spread evenly over the N tenants; each time runs from the first create
              call until every pod shows phase Running (super side for the baseline, in the
              tenants for the tenant run). Reported: both times and their ratio (aim <= 1.15x).
  latency     per tenant pod, from its create call returning to the first watch event of its
              super pod (one watch on all namespaces, labelSelector atoll.dev/vc-uid):
              p50 and p99 (aim p99 < 500 ms).
  memory      operator RSS (it embeds the syncer) before the tenant pods, once all run, and
              once a second wave of as many pods runs too: the second wave's growth per pod
              is the cost of one more synced pod (aim < 20 KiB); the first wave's also holds
              what any burst costs once, above all the connections the pools open.
  resync      with the pods kept and ConfigMaps added up to --resync-objects, SIGKILL the
              operator (its supervisor restarts it) and time until every tenant logged
              `tenant_synced`, a marker ConfigMap created in each tenant just after that has
              reached the super-cluster (the tenant's queue, resync included, has drained up
              to it), and the super objects match the tenant objects exactly (aim < 20 s);
              duplicates, orphans and super objects replaced are counted.
  fairness    one greedy tenant creates G pods while each of K others creates 10, started
              together, and 10 more each once the greedy tenant is half way: p99 latency of
              the others and of the greedy tenant (aim < 1 s for the others).

To say where time goes, the run also reports: the latency of single pods on an idle syncer
(--probes); for both throughput runs, how long create calls took and the CPU seconds every
process used (super components, all tenant control planes by component, the operator, this
benchmark); for the tenant run, when the last super pod appeared and ran, and per pod the
time from its super pod running to its tenant pod running (the way up); the in-memory size
of one decoded tenant pod, super pod and super Event. Figures are wall-clock on a shared
machine: note the load averages printed at the start and the end.

Run: .venv/bin/python bench/syncer_pods.py [--tenants 20] [--pods 1000]
     [--resync-objects 10000] [--greedy 1000] [--others 4] [--concurrency 50]
     [--json figures.json] [--keep-logs folder]
A small run (about 2 minutes): --tenants 2 --pods 100 --resync-objects 300 --greedy 100 --others 1
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import dataclasses
import math
import os
import pathlib
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from typing import Any

import orjson

import common
import podload
from atoll.core import api as atoll_api
from atoll.core import naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, resources
from atoll.local import cluster, process, state
from atoll.syncer import mapping
from atoll.syncer.pods import translate

POOLS = "cloud:2,edge-a:4,edge-b:4"
NAMESPACE = "default"  # the tenant namespace every tenant object goes to
OPERATOR = "atoll-operator"
BENCH_LABEL = "atoll-bench"
KubeObject = kube_client.KubeObject
Inventory = dict[podload.PodKey, str]  # super copy of a tenant object → its uid


@dataclasses.dataclass(frozen=True)
class Tenant:
    """One VirtualCluster: its admin client, and where its objects land on the super side."""

    view: mapping.Tenant
    api: kube_client.Client

    def key(self, name: str) -> podload.PodKey:
        return (self.view.vc_uid, NAMESPACE, name)

    def job(self, resource: resources.Resource, body: KubeObject) -> podload.Job:
        return podload.Job(
            self.api, resource.path(NAMESPACE), body, self.key(body["metadata"]["name"])
        )


def operator_pid(folder: state.StateDir) -> int:
    status = folder.read_status()
    assert status is not None
    return status.pids[OPERATOR]


def cpu_snapshot(folder: state.StateDir) -> dict[str, float]:
    """CPU seconds used so far: super components, tenant control planes, this benchmark."""
    status = folder.read_status()
    assert status is not None
    used = {name: podload.cpu_seconds(pid) for name, pid in status.pids.items()}
    for record in folder.root.glob("vc/*/run/*.json"):
        pid = process.Registry(record.parent).running(record.stem)
        label = f"tenants' {record.stem}"
        used[label] = used.get(label, 0.0) + (podload.cpu_seconds(pid) if pid else 0.0)
    used["benchmark"] = podload.cpu_seconds(os.getpid())
    return used


class CpuMeter:
    """CPU seconds each process used, and the wall time, between `start` and `stop`."""

    def __init__(self, folder: state.StateDir) -> None:
        self.folder = folder
        self._before: dict[str, float] = {}
        self._started = 0.0

    def start(self) -> None:
        self._before = cpu_snapshot(self.folder)
        self._started = time.monotonic()

    def stop(self) -> dict[str, float]:
        """Wall seconds, then each process's CPU seconds, the busiest first."""
        after = cpu_snapshot(self.folder)
        used = {name: after[name] - self._before.get(name, 0.0) for name in after}
        busiest = sorted(used, key=used.__getitem__, reverse=True)
        wall = time.monotonic() - self._started
        return {"wall": round(wall, 1), **{name: round(used[name], 1) for name in busiest}}


def rounded(values: dict[str, Any]) -> dict[str, Any]:
    return {
        key: round(value, 2) if isinstance(value, float) else value for key, value in values.items()
    }


def summary_of(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(podload.percentile(samples, 0.5) * 1000, 1),
        "p99_ms": round(podload.percentile(samples, 0.99) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "samples": len(samples),
    }


async def delete_collection(
    client: kube_client.Client, path: str, label_selector: str | None = None
) -> None:
    """Delete every object of a collection at once, without grace."""
    params = {"labelSelector": label_selector} if label_selector else None
    options = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
    await client.request("DELETE", path, params=params, body=options, timeout=120)


async def count(client: kube_client.Client, path: str, label_selector: str) -> int:
    listing = await client.get(path, params={"labelSelector": label_selector})
    return len(listing["items"])


# --- set-up -----------------------------------------------------------------------------


async def start_tenants(
    api: kube_client.Client, folder: state.StateDir, how_many: int
) -> list[Tenant]:
    """Create the VirtualClusters at once; return once each one's syncer has synced."""
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    await api.create(resources.NAMESPACES.path(), {"metadata": {"name": namespace}})
    names = [f"t{index:02d}" for index in range(how_many)]
    operator_log = podload.LogFollower(folder.log_file(OPERATOR))
    operator_log.offset = 0  # tenant_synced of any of them, however early it came
    for name in names:
        await api.create(
            atoll_api.VIRTUALCLUSTERS.path(namespace),
            {
                "apiVersion": atoll_api.API_VERSION,
                "kind": "VirtualCluster",
                "metadata": {"name": name, "namespace": namespace},
                "spec": {},
            },
        )

    async def all_running() -> list[KubeObject] | None:
        listing = await api.get(atoll_api.VIRTUALCLUSTERS.path(namespace))
        phases = [(item.get("status") or {}).get("phase") for item in listing["items"]]
        return listing["items"] if phases.count("Running") == len(names) else None

    vcs = await wait.until(
        all_running, timeout=300 + 60 * how_many, interval=1.0, what=f"{how_many} VCs Running"
    )

    synced: set[str] = set()

    async def all_synced() -> bool:
        synced.update(
            str(event.get("vc"))
            for event in operator_log.new_events()
            if event.get("event") == "tenant_synced"
        )
        return all(f"{namespace}/{name}" in synced for name in names)

    await wait.until(all_synced, timeout=300, interval=0.5, what="the syncer to serve every VC")

    tenants = []
    for vc in sorted(vcs, key=lambda item: str(item["metadata"]["name"])):
        metadata = vc["metadata"]
        secret = await api.get(resources.SECRETS.path(namespace, f"{metadata['name']}-kubeconfig"))
        access = config.parse_kubeconfig(base64.b64decode(secret["data"]["value"]).decode())
        view = mapping.Tenant(
            vc_name=metadata["name"],
            vc_namespace=namespace,
            vc_uid=metadata["uid"],
            server=vc["status"]["controlPlaneEndpoint"],
            spec=vc["spec"],
        )
        tenant = Tenant(view=view, api=kube_client.Client(access, timeout=60))
        await podload.default_account(tenant.api, NAMESPACE)
        tenants.append(tenant)
    return tenants


# --- 1 and 2: throughput and latency ------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One throughput run; moments in seconds from the first create call."""

    seconds: float  # until every pod showed Running where it was created
    creates: float  # until the last create call returned
    last_super_pod: float = math.nan  # tenant run: the last super pod first seen
    last_super_running: float = math.nan  # tenant run: the last super pod seen Running
    retries: int = 0  # create calls retried after throttling or a dropped connection
    create_call: dict[str, float] = dataclasses.field(default_factory=dict)  # call durations
    up: dict[str, float] = dataclasses.field(default_factory=dict)  # super → tenant Running
    cpu: dict[str, float] = dataclasses.field(default_factory=dict)


async def direct_run(
    api: kube_client.Client, meter: CpuMeter, pods: int, concurrency: int
) -> tuple[Run, str]:
    """Pods created straight in a plain super namespace, until all run."""
    namespace = f"bench-direct-{uuid.uuid4().hex[:6]}"
    await api.create(resources.NAMESPACES.path(), {"metadata": {"name": namespace}})
    await podload.default_account(api, namespace)
    watch = podload.RunningPods(api, namespace)
    watch.start()
    await asyncio.wait_for(watch.source.synced.wait(), timeout=60)

    names = [f"direct-{index:05d}" for index in range(pods)]
    jobs = [
        podload.Job(api, resources.PODS.path(namespace), podload.pod_body(name), ("", "", name))
        for name in names
    ]
    meter.start()
    started = time.monotonic()
    created = await podload.create_all(jobs, concurrency)
    creates = time.monotonic() - started

    async def finished() -> float | None:
        return watch.all_running(names)

    done = await wait.until(finished, timeout=120 + pods, interval=0.1, what="direct pods Running")
    run = Run(
        done - started,
        creates,
        retries=created.retries,
        create_call=summary_of(created.durations),
        cpu=meter.stop(),
    )
    await watch.stop()
    return run, namespace


async def tenant_run(
    tenants: Sequence[Tenant],
    arrivals: podload.FirstSeen,
    meter: CpuMeter,
    pods: int,
    concurrency: int,
    *,
    prefix: str = "pod",
) -> tuple[Run, podload.Created]:
    """Pods spread evenly over the tenants, until all run as each tenant shows them."""
    watches = [podload.RunningPods(tenant.api, NAMESPACE) for tenant in tenants]
    for watch in watches:
        watch.start()
    for watch in watches:
        await asyncio.wait_for(watch.source.synced.wait(), timeout=60)

    # Round-robin, so every tenant creates at the same pace.
    names: list[list[str]] = [[] for _ in tenants]
    jobs = []
    for index in range(pods):
        slot = index % len(tenants)
        name = f"{prefix}-{index:05d}"
        names[slot].append(name)
        jobs.append(tenants[slot].job(resources.PODS, podload.pod_body(name)))

    meter.start()
    started = time.monotonic()
    created = await podload.create_all(jobs, concurrency)
    creates = time.monotonic() - started

    async def finished() -> float | None:
        moments = [watch.all_running(group) for watch, group in zip(watches, names, strict=True)]
        if any(moment is None for moment in moments):
            return None
        return max(moment for moment in moments if moment is not None)

    done = await wait.until(
        finished, timeout=120 + 2 * pods, interval=0.1, what="tenant pods Running"
    )
    cpu = meter.stop()
    for watch in watches:
        await watch.stop()

    async def all_arrived() -> bool:
        return arrivals.latencies(created.returned) is not None

    await wait.until(all_arrived, timeout=60, what="every super pod to be seen")
    keys = list(created.returned)
    up = [
        watch.running_since[name] - arrivals.running[tenant.key(name)]
        for tenant, watch, group in zip(tenants, watches, names, strict=True)
        for name in group
        if tenant.key(name) in arrivals.running
    ]
    run = Run(
        done - started,
        creates,
        last_super_pod=max(arrivals.arrived[key] for key in keys) - started,
        last_super_running=max(arrivals.running.get(key, math.nan) for key in keys) - started,
        retries=created.retries,
        create_call=summary_of(created.durations),
        up=summary_of(up),
        cpu=cpu,
    )
    return run, created


async def object_sizes(
    api: kube_client.Client, tenant: Tenant, arrivals: podload.FirstSeen
) -> dict[str, float]:
    """KiB one pod takes in a Python process: decoded whole, and as the syncer's caches keep it
    (JSON text without managedFields; super pods in their slim form), both sides."""
    listing = await tenant.api.get(resources.PODS.path(NAMESPACE), params={"limit": 1})
    tenant_pod = listing["items"][0]
    super_pod = next(
        obj
        for obj in arrivals.source.cache.values()
        if (obj["metadata"].get("annotations") or {}).get(mapping.TENANT_NAME)
        == tenant_pod["metadata"]["name"]
    )
    events = await api.get(
        resources.EVENTS.path(super_pod["metadata"]["namespace"]), params={"limit": 1}
    )
    sizes = {
        "tenant_pod_kib": podload.deep_size(tenant_pod) / 1024,
        "tenant_pod_managed_fields_kib": podload.deep_size(
            tenant_pod["metadata"].get("managedFields")
        )
        / 1024,
        "super_pod_kib": podload.deep_size(super_pod) / 1024,
        "super_pod_managed_fields_kib": podload.deep_size(
            super_pod["metadata"].get("managedFields")
        )
        / 1024,
        "tenant_pod_cached_kib": _stored_size(_without_managed_fields(tenant_pod)) / 1024,
        "super_pod_cached_kib": _stored_size(
            translate.cached_form(_without_managed_fields(super_pod))
        )
        / 1024,
    }
    if events["items"]:
        sizes["super_event_kib"] = podload.deep_size(events["items"][0]) / 1024
    return {key: round(value, 1) for key, value in sizes.items()}


async def idle_latency(tenant: Tenant, arrivals: podload.FirstSeen, probes: int) -> list[float]:
    """Create→super-create latency of single pods on an idle syncer, one after another."""
    found = []
    for index in range(probes):
        job = tenant.job(resources.PODS, podload.pod_body(f"probe-{index:03d}"))
        created = await podload.create_all([job], 1)

        async def arrived(created: podload.Created = created) -> list[float] | None:
            return arrivals.latencies(created.returned)

        found.extend(await wait.until(arrived, timeout=30, interval=0.02, what="a probe pod"))
    return found


# --- 4: resync after a crash --------------------------------------------------------------


async def inventory(api: kube_client.Client) -> tuple[Inventory, int]:
    """Every super pod and ConfigMap atoll made, by the tenant object it stands for.

    Also returns how many super objects stand for a tenant object another one stands for.
    """
    found: Inventory = {}
    duplicates = 0
    for resource in (resources.PODS, resources.CONFIGMAPS):
        listing = await api.get(resource.path(), params={"labelSelector": naming.VC_UID})
        for obj in listing["items"]:
            annotations = obj["metadata"].get("annotations") or {}
            key = (
                mapping.vc_uid_of(obj) or "",
                annotations.get(mapping.TENANT_NAMESPACE, ""),
                f"{resource.kind}/{annotations.get(mapping.TENANT_NAME, '')}",
            )
            duplicates += key in found
            found[key] = obj["metadata"]["uid"]
    return found, duplicates


async def add_configmaps(
    api: kube_client.Client, tenants: Sequence[Tenant], total: int, concurrency: int
) -> int:
    """Spread `total` ConfigMaps over the tenants; return once all are on the super side."""
    each = math.ceil(total / len(tenants)) if total > 0 else 0
    jobs = [
        tenant.job(
            resources.CONFIGMAPS,
            {
                "metadata": {"name": f"cm-{index:05d}", "labels": {BENCH_LABEL: "resync"}},
                "data": {"key": f"value-{index}"},
            },
        )
        for index in range(each)
        for tenant in tenants
    ]
    await podload.create_all(jobs, concurrency)
    selector = f"{naming.VC_UID},{BENCH_LABEL}=resync"

    async def all_synced() -> bool:
        return await count(api, resources.CONFIGMAPS.path(), selector) == len(jobs)

    await wait.until(
        all_synced, timeout=120 + len(jobs) / 10, interval=1.0, what="ConfigMaps synced"
    )
    return len(jobs)


@dataclasses.dataclass
class Resync:
    restarted: float = math.nan  # the supervisor started a new operator
    all_tenant_synced: float = math.nan  # the last `tenant_synced` log line
    queue_drained: float = math.nan  # the last marker reached the super-cluster
    consistent: float = math.nan  # super objects == tenant objects, after the above
    consistent_listing: float = math.nan  # when the listing that showed it was sent
    missing: int = 0  # most super objects missing at one look
    extra: int = 0  # most super objects at one look with no tenant object (orphans)
    duplicates: int = 0  # most super objects at one look doubling another
    replaced: int = 0  # super objects deleted and made again (a new uid)
    looks: int = 0  # how many times the super-cluster was listed


class Recovery:
    """What is known, at each look, of the syncer's recovery from the kill at `killed`."""

    def __init__(
        self,
        api: kube_client.Client,
        folder: state.StateDir,
        tenants: Sequence[Tenant],
        before: Inventory,
    ) -> None:
        self.api, self.folder, self.before = api, folder, before
        self.by_key = {tenant.view.key: tenant for tenant in tenants}
        self.markers = podload.FirstSeen(api, resources.CONFIGMAPS, f"{BENCH_LABEL}=marker")
        self.operator_log = podload.LogFollower(folder.log_file(OPERATOR))
        self.old_pid = operator_pid(folder)
        self.result = Resync()
        self.synced: dict[str, float] = {}
        self.marked: set[podload.PodKey] = set()
        self.writes: list[asyncio.Task[KubeObject]] = []
        self.killed = math.nan
        self.last_look = 0.0

    async def recovered(self) -> bool:
        now = time.monotonic()
        if math.isnan(self.result.restarted) and operator_pid(self.folder) != self.old_pid:
            self.result.restarted = now - self.killed
        self._read_log(now)
        if len(self.synced) == len(self.by_key) and math.isnan(self.result.all_tenant_synced):
            self.result.all_tenant_synced = max(self.synced.values()) - self.killed
        arrived = self.markers.arrived
        if (
            len(self.marked) == len(self.by_key)
            and math.isnan(self.result.queue_drained)
            and all(key in arrived for key in self.marked)
        ):
            self.result.queue_drained = max(arrived[key] for key in self.marked) - self.killed

        # Listing everything is heavy: look every 2 s, and at every poll once drained.
        drained = not math.isnan(self.result.queue_drained)
        if now - self.last_look < 2.0 and not drained:
            return False
        self.last_look = now
        return await self._look(drained)

    def _read_log(self, now: float) -> None:
        for event in self.operator_log.new_events():
            vc = str(event.get("vc"))
            if event.get("event") != "tenant_synced" or vc not in self.by_key:
                continue
            if vc in self.synced:
                continue
            self.synced[vc] = now
            # A marker goes into the tenant's queue behind its whole resync.
            tenant = self.by_key[vc]
            body = {"metadata": {"name": "marker", "labels": {BENCH_LABEL: "marker"}}}
            job = tenant.job(resources.CONFIGMAPS, body)
            self.marked.add(job.key)
            self.writes.append(asyncio.create_task(tenant.api.create(job.path, body)))

    async def _look(self, drained: bool) -> bool:
        result, before = self.result, self.before
        sent = time.monotonic()
        seen, duplicates = await inventory(self.api)
        result.looks += 1
        markers = {key for key in seen if key[2] == "ConfigMap/marker"}
        result.duplicates = max(result.duplicates, duplicates)
        result.missing = max(result.missing, len(set(before) - set(seen)))
        result.extra = max(result.extra, len(set(seen) - set(before) - markers))
        result.replaced = max(
            result.replaced,
            sum(1 for key, uid in seen.items() if key in before and before[key] != uid),
        )
        if drained and not duplicates and set(seen) - markers == set(before):
            result.consistent = time.monotonic() - self.killed
            result.consistent_listing = sent - self.killed
            return True
        return False


async def resync_after_kill(
    api: kube_client.Client, folder: state.StateDir, tenants: Sequence[Tenant], deadline: float
) -> Resync:
    """SIGKILL the operator; time the embedded syncer's recovery and check its work."""
    before, duplicates = await inventory(api)
    assert duplicates == 0, f"{duplicates} duplicate super objects before the kill"
    recovery = Recovery(api, folder, tenants, before)
    recovery.markers.start()
    await asyncio.wait_for(recovery.markers.source.synced.wait(), timeout=60)

    recovery.killed = time.monotonic()
    os.kill(recovery.old_pid, signal.SIGKILL)
    try:
        await wait.until(
            recovery.recovered, timeout=deadline, interval=0.2, what="the syncer's resync"
        )
    finally:
        await recovery.markers.stop()
        for task in recovery.writes:
            await task
    return recovery.result


# --- 5: fairness --------------------------------------------------------------------------


async def clear_tenants(api: kube_client.Client, tenants: Sequence[Tenant], objects: int) -> None:
    """Delete the tenants' pods and ConfigMaps; return once their super copies are gone."""
    for tenant in tenants:
        await delete_collection(tenant.api, resources.PODS.path(NAMESPACE))
        await delete_collection(tenant.api, resources.CONFIGMAPS.path(NAMESPACE), BENCH_LABEL)

    async def gone() -> bool:
        pods = await count(api, resources.PODS.path(), naming.VC_UID)
        configmaps = await count(api, resources.CONFIGMAPS.path(), BENCH_LABEL)
        return pods + configmaps == 0

    await wait.until(gone, timeout=180 + objects / 20, interval=1.0, what="super copies gone")


async def fairness(
    tenants: Sequence[Tenant],
    arrivals: podload.FirstSeen,
    *,
    greedy_pods: int,
    others: int,
    each: int,
    concurrency: int,
) -> dict[str, Any]:
    """A greedy tenant's burst against a few small tenants' pods, started together."""
    greedy, small = tenants[0], tenants[1 : 1 + others]
    greedy_jobs = [
        greedy.job(resources.PODS, podload.pod_body(f"greedy-{index:05d}"))
        for index in range(greedy_pods)
    ]
    first_jobs = [
        tenant.job(resources.PODS, podload.pod_body(f"small-{index:03d}"))
        for tenant in small
        for index in range(each)
    ]
    later_jobs = [
        tenant.job(resources.PODS, podload.pod_body(f"later-{index:03d}"))
        for tenant in small
        for index in range(each)
    ]
    half_way = asyncio.Event()
    greedy_created = podload.Created()
    later_created = podload.Created()

    def progress(created: int) -> None:
        if created >= greedy_pods // 2:
            half_way.set()

    async def second_wave() -> None:
        await half_way.wait()
        await podload.create_all(later_jobs, len(later_jobs) or 1, created=later_created)

    started = time.monotonic()
    async with asyncio.timeout(120 + greedy_pods), asyncio.TaskGroup() as group:
        group.create_task(
            podload.create_all(
                greedy_jobs, concurrency, created=greedy_created, on_created=progress
            )
        )
        first = group.create_task(podload.create_all(first_jobs, len(first_jobs) or 1))
        group.create_task(second_wave())
    greedy_done = time.monotonic() - started

    async def measured() -> tuple[list[float], list[float], list[float]] | None:
        found = [
            arrivals.latencies(created.returned)
            for created in (first.result(), later_created, greedy_created)
        ]
        if any(item is None for item in found):
            return None
        small_first, small_later, greedy_all = (item or [] for item in found)
        return small_first, small_later, greedy_all

    small_first, small_later, greedy_all = await wait.until(
        measured, timeout=120 + greedy_pods, interval=0.1, what="every super pod to be seen"
    )
    return {
        "others_at_start": summary_of(small_first),
        "others_half_way": summary_of(small_later),
        "others_all": summary_of(small_first + small_later),
        "greedy": summary_of(greedy_all),
        "greedy_creates_seconds": round(greedy_done, 2),
        "greedy_last_super_pod_seconds": round(
            max(arrivals.arrived[key] for key in greedy_created.returned) - started, 2
        ),
    }


# --- the run ------------------------------------------------------------------------------


async def measure(folder: state.StateDir, options: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    access = config.load_kubeconfig(folder.kubeconfig)
    async with kube_client.Client(access, timeout=60) as api:
        started = time.monotonic()
        tenants = await start_tenants(api, folder, options.tenants)
        print(f"{len(tenants)} tenants serving after {time.monotonic() - started:.0f} s")
        arrivals = podload.FirstSeen(api, resources.PODS, naming.VC_UID)
        arrivals.start()
        await asyncio.wait_for(arrivals.source.synced.wait(), timeout=60)

        probes = await idle_latency(tenants[0], arrivals, options.probes)
        meter = CpuMeter(folder)
        direct, direct_namespace = await direct_run(api, meter, options.pods, options.concurrency)
        print(f"direct: {options.pods} pods Running after {direct.seconds:.1f} s")

        rss_before = common.rss_mib(operator_pid(folder))
        via_tenants, created = await tenant_run(
            tenants, arrivals, meter, options.pods, options.concurrency
        )
        rss_after = common.rss_mib(operator_pid(folder))
        latencies = arrivals.latencies(created.returned) or []
        print(f"tenants: {options.pods} pods Running after {via_tenants.seconds:.1f} s")
        more, _ = await tenant_run(
            tenants, arrivals, meter, options.pods, options.concurrency, prefix="more"
        )
        rss_more = common.rss_mib(operator_pid(folder))
        print(f"tenants: {options.pods} more pods Running after {more.seconds:.1f} s")
        figures["throughput"] = {
            "pods": options.pods,
            "second_wave_seconds": round(more.seconds, 1),
            "direct": rounded(dataclasses.asdict(direct)),
            "tenants": rounded(dataclasses.asdict(via_tenants)),
            "ratio": round(via_tenants.seconds / direct.seconds, 3),
        }
        figures["latency"] = {**summary_of(latencies), "idle": summary_of(probes)}
        figures["memory"] = {
            **await object_sizes(api, tenants[0], arrivals),
            "operator_rss_before_mib": round(rss_before, 1),
            "operator_rss_after_mib": round(rss_after, 1),
            "operator_rss_after_second_wave_mib": round(rss_more, 1),
            "first_wave_kib_per_pod": round((rss_after - rss_before) * 1024 / options.pods, 2),
            "kib_per_pod": round((rss_more - rss_after) * 1024 / options.pods, 2),
        }

        await delete_collection(api, resources.PODS.path(direct_namespace))
        await api.delete(resources.NAMESPACES.path(name=direct_namespace))
        pods = 2 * options.pods  # both waves
        extra = await add_configmaps(
            api, tenants, options.resync_objects - pods, options.concurrency
        )
        print(f"resync: {pods} pods and {extra} ConfigMaps synced; killing the operator")
        resync = await resync_after_kill(api, folder, tenants, deadline=300)
        figures["resync"] = {
            "objects": pods + extra,
            **rounded(dataclasses.asdict(resync)),
            "operator_rss_after_restart_mib": round(common.rss_mib(operator_pid(folder)), 1),
            "operator_cpu_seconds_since_restart": podload.cpu_seconds(operator_pid(folder)),
        }
        print(f"resync: consistent after {resync.consistent:.1f} s")

        await clear_tenants(api, tenants, pods + extra)
        figures["fairness"] = await fairness(
            tenants,
            arrivals,
            greedy_pods=options.greedy,
            others=min(options.others, len(tenants) - 1),
            each=options.others_pods,
            concurrency=options.concurrency,
        )
        await arrivals.stop()
        for tenant in tenants:
            await tenant.api.close()
    figures["load_average_at_end"] = os.getloadavg()
    return figures


def _stored_size(obj: KubeObject) -> int:
    """Bytes a compact cache (`compact.CompactStore`) takes to keep `obj`: its JSON text."""
    return sys.getsizeof(orjson.dumps(obj))


def _without_managed_fields(obj: KubeObject) -> KubeObject:
    trimmed = copy.deepcopy(obj)
    trimmed["metadata"].pop("managedFields", None)
    return trimmed


def table(figures: dict[str, Any]) -> str:
    throughput, latency = figures["throughput"], figures["latency"]
    direct, tenants = throughput["direct"], throughput["tenants"]
    memory, resync, fair = figures["memory"], figures["resync"], figures["fairness"]
    rows = [
        ("throughput direct", f"{direct['seconds']:8.1f} s", "baseline"),
        ("throughput tenants", f"{tenants['seconds']:8.1f} s", ""),
        ("  ratio", f"{throughput['ratio']:8.2f} x", "aim <= 1.15"),
        (
            "  creates returned",
            f"{direct['creates']:.1f} / {tenants['creates']:.1f} s",
            "direct / tenants",
        ),
        (
            "  create call p50",
            f"{direct['create_call']['p50_ms']:.0f} / {tenants['create_call']['p50_ms']:.0f} ms",
            "direct / tenants",
        ),
        ("  last super pod", f"{tenants['last_super_pod']:8.1f} s", "tenants: created"),
        ("  last super Running", f"{tenants['last_super_running']:8.1f} s", "tenants: on super"),
        ("latency idle p50", f"{latency['idle']['p50_ms']:8.0f} ms", "one pod at a time"),
        ("latency p50", f"{latency['p50_ms']:8.0f} ms", ""),
        ("latency p99", f"{latency['p99_ms']:8.0f} ms", "aim < 500"),
        (
            "up p50 / p99",
            f"{tenants['up']['p50_ms']:.0f}/{tenants['up']['p99_ms']:.0f} ms",
            "super→tenant Running",
        ),
        ("memory per pod", f"{memory['kib_per_pod']:8.1f} KiB", "aim < 20; second wave"),
        ("  first wave", f"{memory['first_wave_kib_per_pod']:8.1f} KiB", "pools warming too"),
        (
            "  cached tenant / super",
            f"{memory['tenant_pod_cached_kib']:.1f} / {memory['super_pod_cached_kib']:.1f} KiB",
            "one pod, as held",
        ),
        ("resync restarted", f"{resync['restarted']:8.1f} s", "after SIGKILL"),
        ("resync tenant_synced", f"{resync['all_tenant_synced']:8.1f} s", "all tenants"),
        ("resync queue drained", f"{resync['queue_drained']:8.1f} s", "markers down"),
        ("resync consistent", f"{resync['consistent']:8.1f} s", "aim < 20"),
        ("  its listing sent at", f"{resync['consistent_listing']:8.1f} s", "lower bound"),
        (
            "  missing/orphan/dup/new",
            f"{resync['missing']}/{resync['extra']}/{resync['duplicates']}/{resync['replaced']}",
            "should be 0/0/0/0",
        ),
        ("fairness others p99", f"{fair['others_all']['p99_ms']:8.0f} ms", "aim < 1000"),
        ("  at start / half way", _pair(fair, "p99_ms"), "p99 ms"),
        ("fairness greedy p50", f"{fair['greedy']['p50_ms']:8.0f} ms", ""),
        ("fairness greedy p99", f"{fair['greedy']['p99_ms']:8.0f} ms", ""),
    ]
    return "\n".join(f"{label:<26}{value:>14}   {note}" for label, value, note in rows)


def _pair(fair: dict[str, Any], field: str) -> str:
    return f"{fair['others_at_start'][field]:.0f} / {fair['others_half_way'][field]:.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=20)
    parser.add_argument("--pods", type=int, default=1000, help="pods in each throughput run")
    parser.add_argument("--resync-objects", type=int, default=10000)
    parser.add_argument("--greedy", type=int, default=1000, help="pods of the greedy tenant")
    parser.add_argument("--others", type=int, default=4, help="tenants besides the greedy one")
    parser.add_argument("--others-pods", type=int, default=10, help="pods per other, per wave")
    parser.add_argument("--probes", type=int, default=10, help="single pods on an idle syncer")
    parser.add_argument("--concurrency", type=int, default=50, help="create calls in flight")
    parser.add_argument("--keep-logs", type=pathlib.Path, default=None, help="copy logs here")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write figures here")
    options = parser.parse_args()
    common.stop_cleanly_on_sigterm()
    assert options.tenants >= 2, "fairness needs a greedy tenant and another"

    with tempfile.TemporaryDirectory(prefix="atoll-bench-") as scratch:
        folder = state.StateDir(pathlib.Path(scratch) / "state")
        cluster.up(folder, pools=POOLS, timeout=240)
        try:
            figures = asyncio.run(measure(folder, options))
        finally:
            cluster.down(folder)
            if options.keep_logs:
                shutil.copytree(folder.logs, options.keep_logs, dirs_exist_ok=True)

    figures["options"] = {key: str(value) for key, value in vars(options).items()}
    figures["commit"] = podload.commit()
    print(table(figures))
    for label in ("direct", "tenants"):
        cpu = figures["throughput"][label]["cpu"]
        print(f"cpu seconds, {label} run:", ", ".join(f"{k} {v}" for k, v in cpu.items() if v))
    print("load average at start / end:", figures["load_average_at_start"], "/", end=" ")
    print(figures["load_average_at_end"])
    if options.json:
        options.json.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
