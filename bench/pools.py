"""Node pools in the syncer's path: what placement and quotas cost, and a cut edge link healed.

Everything runs on ONE fresh local super-cluster with pools cloud:1,edge-a:2,edge-b:2 (the
edge pools are Edge) and three VirtualClusters of the process provisioner; every pod is bare,
image busybox, named uniquely, created with one bounded concurrency.

  placement  "plain" (`spec: {}`) against "fenced" (granted edge-a and edge-b, each with a
             quota far above what the run uses, so every pod goes through the syncer's
             per-tenant admission lock and is pinned to one pool). P pods in each, created
             interleaved; per pod, from its create call returning to the first watch event
             of its super pod (one watch on all namespaces, labelSelector atoll.dev/vc-uid).
             p50 and p99 per VC and their difference, in each of R rounds; every round starts
             from emptied tenants and the VC that goes first alternates, so the spread of the
             rounds says what noise is (aim: the difference within it).
  reconnect  "edge-b-only" (granted edge-b alone) with E pods Running and Ready on edge-b.
             Cut edge-b's link and wait, untimed, until its super nodes are Ready=Unknown
             (node grace 40 s) and the tenant pods Ready=False; restore the link and time,
             by polling lists, until every tenant pod is Ready=True again (the super nodes
             and super pods are timed on the way). No pod may be deleted, recreated or moved
             on either side: uids and nodes before and after, and a watch on both sides
             through the whole outage, say so.

Figures are wall-clock on a shared machine: note the load averages printed at start and end.

Run: .venv/bin/python bench/pools.py [--pods 200] [--rounds 3] [--edge-pods 200]
     [--concurrency 20] [--json figures.json]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import math
import os
import pathlib
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

import common
import podload
from atoll.core import api as atoll_api
from atoll.core import naming, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, informer, resources
from atoll.local import cluster, state
from atoll.local.nodesim import layout
from atoll.syncer import mapping

POOLS = "cloud:1,edge-a:2,edge-b:2"
NAMESPACE = "default"  # the tenant namespace every tenant pod goes to
OPERATOR = "atoll-operator"
EDGE_POOL = "edge-b"
NODE_GRACE = 40  # the super controller-manager's node grace period, `cluster.up`'s default
QUOTA_PODS = 1000
KubeObject = kube_client.KubeObject

SPECS: dict[str, KubeObject] = {
    "plain": {},
    "fenced": {
        "nodePools": [
            {"name": "edge-a", "quota": {"pods": QUOTA_PODS, "requests.cpu": "500"}},
            {"name": "edge-b", "quota": {"pods": QUOTA_PODS}},
        ]
    },
    "edge-b-only": {"nodePools": [{"name": EDGE_POOL}]},
}


@dataclasses.dataclass(frozen=True)
class Tenant:
    """One VirtualCluster: its name, its uid (the super pods' label) and its admin client."""

    name: str
    vc_uid: str
    api: kube_client.Client

    def job(self, pod_name: str) -> podload.Job:
        return podload.Job(
            self.api,
            resources.PODS.path(NAMESPACE),
            podload.pod_body(pod_name),
            (self.vc_uid, NAMESPACE, pod_name),
        )

    @property
    def selector(self) -> str:
        return f"{naming.VC_UID}={self.vc_uid}"


def condition(obj: KubeObject, type_: str) -> str | None:
    conditions = (obj.get("status") or {}).get("conditions") or []
    return next((str(item["status"]) for item in conditions if item["type"] == type_), None)


def all_at(objects: Sequence[KubeObject], ready: str, count: int | None = None) -> bool:
    """Whether there are objects (`count` of them, if given) and all are Ready=`ready`."""
    if not objects or (count is not None and len(objects) != count):
        return False
    return all(condition(obj, "Ready") == ready for obj in objects)


def summary_of(samples: Sequence[float]) -> dict[str, float]:
    return {
        "p50_ms": round(podload.percentile(samples, 0.5) * 1000, 1),
        "p99_ms": round(podload.percentile(samples, 0.99) * 1000, 1),
        "max_ms": round(max(samples) * 1000, 1),
        "samples": len(samples),
    }


async def items(client: kube_client.Client, path: str, **params: str) -> list[KubeObject]:
    listing = await client.get(path, params=params or None)
    return list(listing["items"])


# --- set-up -----------------------------------------------------------------------------


async def start_tenants(api: kube_client.Client, folder: state.StateDir) -> dict[str, Tenant]:
    """Create the VirtualClusters at once; return once the syncer serves each one."""
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    await api.create(resources.NAMESPACES.path(), {"metadata": {"name": namespace}})
    operator_log = podload.LogFollower(folder.log_file(OPERATOR))
    operator_log.offset = 0  # tenant_synced of any of them, however early it came
    for name, spec in SPECS.items():
        await api.create(
            atoll_api.VIRTUALCLUSTERS.path(namespace),
            {
                "apiVersion": atoll_api.API_VERSION,
                "kind": "VirtualCluster",
                "metadata": {"name": name, "namespace": namespace},
                "spec": spec,
            },
        )

    async def all_running() -> list[KubeObject] | None:
        vcs = await items(api, atoll_api.VIRTUALCLUSTERS.path(namespace))
        phases = [(vc.get("status") or {}).get("phase") for vc in vcs]
        return vcs if phases.count("Running") == len(SPECS) else None

    vcs = await wait.until(all_running, timeout=600, interval=1.0, what="the VCs Running")

    synced: set[str] = set()

    async def all_synced() -> bool:
        synced.update(
            str(event.get("vc"))
            for event in operator_log.new_events()
            if event.get("event") == "tenant_synced"
        )
        return all(f"{namespace}/{name}" in synced for name in SPECS)

    await wait.until(all_synced, timeout=300, interval=0.5, what="the syncer to serve every VC")

    tenants = {}
    for vc in vcs:
        name = vc["metadata"]["name"]
        secret = await api.get(resources.SECRETS.path(namespace, f"{name}-kubeconfig"))
        access = config.parse_kubeconfig(base64.b64decode(secret["data"]["value"]).decode())
        tenant = Tenant(name, vc["metadata"]["uid"], kube_client.Client(access, timeout=60))
        await podload.default_account(tenant.api, NAMESPACE)
        tenants[name] = tenant
    return tenants


async def clear(api: kube_client.Client, tenants: Sequence[Tenant]) -> None:
    """Delete the tenants' pods at once; return once neither side holds any."""
    options = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
    for tenant in tenants:
        await tenant.api.request(
            "DELETE", resources.PODS.path(NAMESPACE), body=options, timeout=120
        )

    async def gone() -> bool:
        for tenant in tenants:
            if await items(tenant.api, resources.PODS.path(NAMESPACE)):
                return False
            if await items(api, resources.PODS.path(), labelSelector=tenant.selector):
                return False
        return True

    await wait.until(gone, timeout=300, interval=1.0, what="tenant and super pods gone")


# --- 1: placement and quota, on against off -----------------------------------------------


async def warm_up(tenants: Sequence[Tenant], arrivals: podload.FirstSeen) -> None:
    """One pod per tenant, so no round pays for the super namespace and token Secret."""
    created = await podload.create_all([tenant.job("warm-up") for tenant in tenants], 2)

    async def arrived() -> list[float] | None:
        return arrivals.latencies(created.returned)

    await wait.until(arrived, timeout=120, interval=0.1, what="the warm-up super pods")


async def comparison_round(
    number: int,
    plain: Tenant,
    fenced: Tenant,
    arrivals: podload.FirstSeen,
    *,
    pods: int,
    concurrency: int,
) -> dict[str, Any]:
    """P pods in each VC, interleaved; the latency of each VC's pods to their super copies."""
    order = (plain, fenced) if number % 2 == 0 else (fenced, plain)
    jobs = [tenant.job(f"r{number}-{index:05d}") for index in range(pods) for tenant in order]
    created = await podload.create_all(jobs, concurrency)

    async def arrived() -> list[float] | None:
        return arrivals.latencies(created.returned)

    await wait.until(arrived, timeout=120 + pods, interval=0.1, what="every super pod seen")

    def figures_of(tenant: Tenant) -> dict[str, float]:
        returned = {key: at for key, at in created.returned.items() if key[0] == tenant.vc_uid}
        latencies = [arrivals.arrived[key] - at for key, at in returned.items()]
        # Super pods per second, from the first create answer to the last super pod seen:
        # pods admitted one at a time show here as a rate of one per super create call.
        span = max(arrivals.arrived[key] for key in returned) - min(returned.values())
        return {**summary_of(latencies), "super_pods_per_s": round(len(returned) / span, 1)}

    plain_figures, fenced_figures = figures_of(plain), figures_of(fenced)
    return {
        "first": order[0].name,
        "plain": plain_figures,
        "fenced": fenced_figures,
        "diff_p50_ms": round(fenced_figures["p50_ms"] - plain_figures["p50_ms"], 1),
        "diff_p99_ms": round(fenced_figures["p99_ms"] - plain_figures["p99_ms"], 1),
        "create_call": summary_of(created.durations),
        "retries": created.retries,
        "pinned": pinned_pools(arrivals, (plain, fenced)),
    }


def pinned_pools(arrivals: podload.FirstSeen, tenants: Sequence[Tenant]) -> dict[str, Any]:
    """How many super pods of each VC the syncer pinned to each pool by nodeSelector."""
    pinned: dict[str, dict[str, int]] = {tenant.name: {} for tenant in tenants}
    by_uid = {tenant.vc_uid: tenant.name for tenant in tenants}
    for super_pod in arrivals.source.cache.values():
        owner = by_uid.get(mapping.vc_uid_of(super_pod) or "")
        if owner is None:
            continue
        selector = (super_pod.get("spec") or {}).get("nodeSelector") or {}
        pool = selector.get(layout.POOL_LABEL, "none")
        pinned[owner][pool] = pinned[owner].get(pool, 0) + 1
    return pinned


def spread(rounds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Median and range over the rounds of each VC's p50 and p99, and of their differences."""

    def of(values: list[float]) -> dict[str, float]:
        return {
            "median": round(statistics.median(values), 1),
            "min": round(min(values), 1),
            "max": round(max(values), 1),
            "range": round(max(values) - min(values), 1),
        }

    result: dict[str, Any] = {}
    for field in ("p50_ms", "p99_ms"):
        for vc in ("plain", "fenced"):
            result[f"{vc}_{field}"] = of([item[vc][field] for item in rounds])
        result[f"diff_{field}"] = of([item[f"diff_{field}"] for item in rounds])
        # Noise: how far one VC's own figure moves between rounds, the larger of the two.
        noise = max(result[f"plain_{field}"]["range"], result[f"fenced_{field}"]["range"])
        result[f"noise_{field}"] = noise
        result[f"within_noise_{field}"] = abs(result[f"diff_{field}"]["median"]) <= noise
    return result


# --- 2: a cut edge link, restored ----------------------------------------------------------


class Witness:
    """Every change to one set of pods while it runs: deletions, and the uids seen per name."""

    def __init__(
        self, client: kube_client.Client, *, namespace: str | None, label_selector: str | None
    ) -> None:
        self.source = informer.Informer(
            client, resources.PODS, namespace=namespace, label_selector=label_selector
        )
        self.deleted: set[str] = set()
        self.marked: set[str] = set()  # names that got a deletionTimestamp
        self.uids: dict[str, set[str]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._follow())
        await asyncio.wait_for(self.source.synced.wait(), timeout=60)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _follow(self) -> None:
        async for event_type, pod in self.source.events():
            metadata = pod["metadata"]
            if event_type == "DELETED":
                self.deleted.add(metadata["name"])
            if metadata.get("deletionTimestamp"):
                self.marked.add(metadata["name"])
            self.uids.setdefault(metadata["name"], set()).add(metadata["uid"])

    def figures(self) -> dict[str, int]:
        return {
            "deleted": len(self.deleted),
            "marked_for_deletion": len(self.marked),
            "names_with_two_uids": sum(1 for uids in self.uids.values() if len(uids) > 1),
        }


Identities = dict[str, tuple[str, str]]  # pod name → (uid, node)


def identities(pods: Sequence[KubeObject]) -> Identities:
    return {
        pod["metadata"]["name"]: (
            str(pod["metadata"]["uid"]),
            str((pod.get("spec") or {}).get("nodeName") or ""),
        )
        for pod in pods
    }


def changes(before: Identities, after: Identities) -> dict[str, int]:
    """How `after` differs from `before`: pods gone, pods new, uids and nodes changed."""
    kept = [name for name in before if name in after]
    return {
        "missing": len(set(before) - set(after)),
        "extra": len(set(after) - set(before)),
        "uid_changed": sum(1 for name in kept if after[name][0] != before[name][0]),
        "node_changed": sum(1 for name in kept if after[name][1] != before[name][1]),
    }


@dataclasses.dataclass(frozen=True)
class Edge:
    """The edge-b tenant and the lists the outage reads, on both sides."""

    api: kube_client.Client  # the super-cluster
    folder: state.StateDir
    tenant: Tenant
    pods: int

    async def nodes(self) -> list[KubeObject]:
        selector = f"{layout.POOL_LABEL}={EDGE_POOL}"
        return await items(self.api, resources.NODES.path(), labelSelector=selector)

    async def super_pods(self) -> list[KubeObject]:
        return await items(self.api, resources.PODS.path(), labelSelector=self.tenant.selector)

    async def tenant_pods(self) -> list[KubeObject]:
        return await items(self.tenant.api, resources.PODS.path(NAMESPACE))


async def bring_up(edge: Edge, concurrency: int) -> dict[str, Any]:
    """Every pod Running and Ready in the tenant; how many of their super pods are on edge-b."""
    started = time.monotonic()
    jobs = [edge.tenant.job(f"edge-{index:05d}") for index in range(edge.pods)]
    await podload.create_all(jobs, concurrency)

    async def running() -> bool:
        found = await edge.tenant_pods()
        phases = {(pod.get("status") or {}).get("phase") for pod in found}
        return phases == {"Running"} and all_at(found, "True", edge.pods)

    await wait.until(
        running, timeout=120 + 2 * edge.pods, interval=1.0, what="edge pods Running and Ready"
    )
    edge_nodes = {node["metadata"]["name"] for node in await edge.nodes()}
    on_edge = [pod for pod in await edge.super_pods() if pod["spec"].get("nodeName") in edge_nodes]
    return {"running_after_s": round(time.monotonic() - started, 1), "on_edge_b": len(on_edge)}


async def go_dark(edge: Edge, before: Identities) -> dict[str, Any]:
    """Cut the link; wait for the nodes to go Unknown and the tenant pods not Ready (untimed)."""
    cut = time.monotonic()
    assert cluster.set_pool_link(edge.folder, EDGE_POOL, connected=False)

    async def nodes_dark() -> bool:
        return all_at(await edge.nodes(), "Unknown")

    await wait.until(
        nodes_dark, timeout=NODE_GRACE + 120, interval=0.5, what="edge-b nodes Ready=Unknown"
    )
    figures: dict[str, Any] = {"nodes_unknown_after_cut_s": round(time.monotonic() - cut, 1)}

    # The reconnect is timed from pods shown not Ready; say so when some never were.
    not_ready = 0

    async def tenant_dark() -> bool:
        nonlocal not_ready
        found = await edge.tenant_pods()
        not_ready = sum(1 for pod in found if condition(pod, "Ready") == "False")
        return not_ready == edge.pods

    try:
        await wait.until(tenant_dark, timeout=120, interval=0.5, what="tenant pods Ready=False")
        figures["tenant_not_ready_after_cut_s"] = round(time.monotonic() - cut, 1)
    except TimeoutError:
        figures["tenant_not_ready_after_cut_s"] = math.nan
    figures["tenant_not_ready_seen"] = not_ready
    figures["dark_changes"] = changes(before, identities(await edge.tenant_pods()))
    return figures


class Poll:
    """Polls one listing until all of it is Ready=True; when that was first seen, and bounds.

    The moment is when the first all-Ready answer was read; the previous poll, not all Ready,
    was sent after the true moment could have been, so its sending time is a lower bound.
    """

    def __init__(
        self, listing: Callable[[], Awaitable[list[KubeObject]]], count: int | None, since: float
    ) -> None:
        self.listing = listing
        self.count = count
        self.since = since
        self.polls = 0
        self.last_sent = since
        self.seen: float | None = None
        self.lower_bound = since

    async def check(self) -> bool:
        self.polls += 1
        sent = time.monotonic()
        found = await self.listing()
        if all_at(found, "True", self.count):
            self.seen, self.lower_bound = time.monotonic(), self.last_sent
            return True
        self.last_sent = sent
        return False

    def figures(self) -> dict[str, float]:
        assert self.seen is not None
        return {
            "seconds": round(self.seen - self.since, 2),
            "lower_bound": round(self.lower_bound - self.since, 2),
            "polls": self.polls,
        }


async def come_back(edge: Edge) -> dict[str, Any]:
    """Restore the link; seconds until tenant pods, and on the way nodes and super pods, are Ready.

    Each listing is polled on its own, so a slow one does not coarsen the others' figures.
    """
    restored = time.monotonic()
    assert cluster.set_pool_link(edge.folder, EDGE_POOL, connected=True)
    polls = {
        "nodes": Poll(edge.nodes, None, restored),
        "super_pods": Poll(edge.super_pods, edge.pods, restored),
        "tenant_pods": Poll(edge.tenant_pods, edge.pods, restored),
    }
    await asyncio.gather(
        *(
            wait.until(poll.check, timeout=300, interval=0.1, what=f"{label} Ready=True again")
            for label, poll in polls.items()
        )
    )
    return {label: poll.figures() for label, poll in polls.items()}


async def outage(edge: Edge, concurrency: int) -> dict[str, Any]:
    """Pods on edge-b through a cut link and back, watched on both sides the whole time."""
    figures: dict[str, Any] = {"pods": edge.pods, **await bring_up(edge, concurrency)}
    tenant_before = identities(await edge.tenant_pods())
    super_before = identities(await edge.super_pods())

    tenant_watch = Witness(edge.tenant.api, namespace=NAMESPACE, label_selector=None)
    super_watch = Witness(edge.api, namespace=None, label_selector=edge.tenant.selector)
    await tenant_watch.start()
    await super_watch.start()
    try:
        figures.update(await go_dark(edge, tenant_before))
        figures["reconnect"] = await come_back(edge)
    finally:
        cluster.set_pool_link(edge.folder, EDGE_POOL, connected=True)
        await tenant_watch.stop()
        await super_watch.stop()

    figures["tenant_changes"] = changes(tenant_before, identities(await edge.tenant_pods()))
    figures["super_changes"] = changes(super_before, identities(await edge.super_pods()))
    figures["tenant_watch"] = tenant_watch.figures()
    figures["super_watch"] = super_watch.figures()
    return figures


# --- the run ------------------------------------------------------------------------------


async def measure(folder: state.StateDir, options: argparse.Namespace) -> dict[str, Any]:
    figures: dict[str, Any] = {"load_average_at_start": os.getloadavg()}
    access = config.load_kubeconfig(folder.kubeconfig)
    async with kube_client.Client(access, timeout=60) as api:
        started = time.monotonic()
        tenants = await start_tenants(api, folder)
        print(f"{len(tenants)} VCs serving after {time.monotonic() - started:.0f} s")
        plain, fenced = tenants["plain"], tenants["fenced"]
        arrivals = podload.FirstSeen(api, resources.PODS, naming.VC_UID)
        arrivals.start()
        await asyncio.wait_for(arrivals.source.synced.wait(), timeout=60)

        try:
            await warm_up([plain, fenced], arrivals)
            rounds = []
            for number in range(options.rounds):
                await clear(api, [plain, fenced])
                result = await comparison_round(
                    number,
                    plain,
                    fenced,
                    arrivals,
                    pods=options.pods,
                    concurrency=options.concurrency,
                )
                rounds.append(result)
                print(
                    f"round {number + 1}: p50 plain {result['plain']['p50_ms']:.0f} / fenced "
                    f"{result['fenced']['p50_ms']:.0f} ms, p99 plain "
                    f"{result['plain']['p99_ms']:.0f} / fenced {result['fenced']['p99_ms']:.0f} ms"
                )
            await clear(api, [plain, fenced])
            figures["placement"] = {"rounds": rounds, "spread": spread(rounds)}

            edge = Edge(api, folder, tenants["edge-b-only"], options.edge_pods)
            figures["outage"] = await outage(edge, options.concurrency)
            print(f"reconnect: {figures['outage']['reconnect']['tenant_pods']}")
        finally:
            await arrivals.stop()
            for tenant in tenants.values():
                await tenant.api.close()
    figures["load_average_at_end"] = os.getloadavg()
    return figures


def table(figures: dict[str, Any]) -> str:
    placement, out = figures["placement"], figures["outage"]
    lines = [
        "round first   plain p50/p99 ms  fenced p50/p99 ms  diff p50/p99 ms  "
        "super pods/s plain/fenced  fenced pinned",
    ]
    for number, item in enumerate(placement["rounds"], start=1):
        pinned, plain_rate = item["pinned"]["fenced"], item["plain"]["super_pods_per_s"]
        lines.append(
            f"{number:>5} {item['first']:<7}"
            f"{item['plain']['p50_ms']:>8.0f} /{item['plain']['p99_ms']:>6.0f}"
            f"{item['fenced']['p50_ms']:>10.0f} /{item['fenced']['p99_ms']:>6.0f}"
            f"{item['diff_p50_ms']:>+10.0f} /{item['diff_p99_ms']:>+6.0f}"
            f"{plain_rate:>12.1f} /{item['fenced']['super_pods_per_s']:>6.1f}"
            f"   a {pinned.get('edge-a', 0)} b {pinned.get('edge-b', 0)}"
        )
    spread_of = placement["spread"]
    for field in ("p50_ms", "p99_ms"):
        plain_, fenced_, diff = (spread_of[f"{vc}_{field}"] for vc in ("plain", "fenced", "diff"))
        lines.append(
            f"{field[:3]} median (range): plain {plain_['median']:.0f} ({plain_['min']:.0f}.."
            f"{plain_['max']:.0f}), fenced {fenced_['median']:.0f} ({fenced_['min']:.0f}.."
            f"{fenced_['max']:.0f}), diff {diff['median']:+.0f} ({diff['min']:+.0f}.."
            f"{diff['max']:+.0f}) ms; noise {spread_of[f'noise_{field}']:.0f} ms → "
            + ("within noise" if spread_of[f"within_noise_{field}"] else "OUTSIDE noise")
        )
    reconnect = {label: figures_["seconds"] for label, figures_ in out["reconnect"].items()}
    tenant_ready = out["reconnect"]["tenant_pods"]
    lines += [
        f"outage: {out['pods']} pods Running+Ready after {out['running_after_s']} s, "
        f"{out['on_edge_b']} on edge-b",
        f"  cut → nodes Unknown {out['nodes_unknown_after_cut_s']} s, → tenant pods "
        f"Ready=False {out['tenant_not_ready_after_cut_s']} s "
        f"({out['tenant_not_ready_seen']}/{out['pods']})",
        f"  reconnect → nodes Ready {reconnect['nodes']} s, super pods Ready "
        f"{reconnect['super_pods']} s, TENANT PODS READY {reconnect['tenant_pods']} s "
        f"(not before {tenant_ready['lower_bound']} s; {tenant_ready['polls']} polls)",
        f"  tenant pods while dark: {out['dark_changes']}",
        f"  tenant pods after: {out['tenant_changes']}, watch {out['tenant_watch']}",
        f"  super pods after:  {out['super_changes']}, watch {out['super_watch']}",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pods", type=int, default=200, help="pods per VC in each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--edge-pods", type=int, default=200, help="pods through the outage")
    parser.add_argument("--concurrency", type=int, default=20, help="create calls in flight")
    parser.add_argument("--json", type=pathlib.Path, default=None, help="write figures here")
    options = parser.parse_args()
    common.stop_cleanly_on_sigterm()
    assert options.pods < QUOTA_PODS, "the fenced VC's quotas must never refuse a pod"

    with tempfile.TemporaryDirectory(prefix="atoll-bench-") as scratch:
        folder = state.StateDir(pathlib.Path(scratch) / "state")
        cluster.up(folder, pools=POOLS, timeout=240)
        try:
            figures = asyncio.run(measure(folder, options))
        finally:
            cluster.down(folder)

    figures["options"] = {key: str(value) for key, value in vars(options).items()}
    figures["commit"] = podload.commit()
    print(table(figures))
    print("load average at start / end:", figures["load_average_at_start"], "/", end=" ")
    print(figures["load_average_at_end"])
    if options.json:
        options.json.write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2))


if __name__ == "__main__":
    main()
