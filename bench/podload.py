"""Load and observation tools for the syncer benchmark (`syncer_pods.py`).

Creating many objects with bounded concurrency, watching pods until they run, noting when
each tenant pod's super copy first appears (and first runs), following a component's JSON
log, a process's CPU time, the in-memory size of a decoded object, and the percentiles the
benchmark reports. Every timestamp is `time.monotonic()` taken where the
event was seen (a create call returning, a watch event arriving), so figures do not depend on
how often a waiting loop polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import math
import os
import pathlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence

import orjson

from atoll.core import backoff, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources
from atoll.syncer import mapping

KubeObject = kube_client.KubeObject
PodKey = tuple[str, str, str]  # (VirtualCluster uid, tenant namespace, tenant name)
RETRIES = 8
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclasses.dataclass(frozen=True)
class Job:
    """One object to create: where, and the body."""

    client: kube_client.Client
    path: str
    body: KubeObject
    key: PodKey  # how the caller finds the object's timestamp back


@dataclasses.dataclass
class Created:
    """When each create call returned, how long it took, and how many were retried."""

    returned: dict[PodKey, float] = dataclasses.field(default_factory=dict)
    durations: list[float] = dataclasses.field(default_factory=list)  # retries included
    retries: int = 0


async def create_all(
    jobs: Iterable[Job],
    concurrency: int,
    *,
    created: Created | None = None,
    on_created: Callable[[int], None] | None = None,
) -> Created:
    """Create every job with at most `concurrency` calls in flight, in the given order.

    Throttling (429) and dropped connections are retried with backoff; anything else fails
    the run. `on_created` gets the running count after each create.
    """
    result = created or Created()
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:
            retry = backoff.Backoff(0.1, 2.0)
            sent = time.monotonic()
            for attempt in range(RETRIES + 1):
                try:
                    await job.client.create(job.path, job.body)
                    break
                except (errors.TooManyRequests, errors.Unreachable, errors.ServerError):
                    if attempt == RETRIES:
                        raise
                    result.retries += 1
                    await retry.sleep()
            result.returned[job.key] = time.monotonic()
            result.durations.append(result.returned[job.key] - sent)
            if on_created is not None:
                on_created(len(result.returned))

    async with asyncio.TaskGroup() as group:
        for _ in range(concurrency):
            group.create_task(worker())
    return result


def pod_body(name: str, labels: dict[str, str] | None = None) -> KubeObject:
    """A bare pod, image busybox, as a user would post it."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"containers": [{"name": "main", "image": "busybox"}]},
    }


class _Follower:
    """Consumes an informer in a task; subclasses say what each event means."""

    def __init__(self, source: informer.Informer) -> None:
        self.source = source
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._consume())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _consume(self) -> None:
        async for event_type, obj in self.source.events():
            self.note(event_type, obj, time.monotonic())

    def note(self, event_type: str, obj: KubeObject, now: float) -> None:
        raise NotImplementedError


class RunningPods(_Follower):
    """The first moment each pod of one namespace was seen in phase Running."""

    def __init__(self, client: kube_client.Client, namespace: str) -> None:
        super().__init__(informer.Informer(client, resources.PODS, namespace=namespace))
        self.running_since: dict[str, float] = {}

    def note(self, event_type: str, obj: KubeObject, now: float) -> None:
        name = obj["metadata"]["name"]
        if event_type == "DELETED":
            self.running_since.pop(name, None)
        elif (obj.get("status") or {}).get("phase") == "Running":
            self.running_since.setdefault(name, now)

    def all_running(self, names: Sequence[str]) -> float | None:
        """When the last of `names` started running; None while one is not running yet."""
        moments = [self.running_since.get(name) for name in names]
        if not moments or any(moment is None for moment in moments):
            return None
        return max(moment for moment in moments if moment is not None)

    def count(self) -> int:
        return len(self.source.cache)


class FirstSeen(_Follower):
    """When each tenant object's super copy was first seen, over every VirtualCluster."""

    def __init__(
        self, super_api: kube_client.Client, resource: resources.Resource, label_selector: str
    ) -> None:
        super().__init__(informer.Informer(super_api, resource, label_selector=label_selector))
        self.arrived: dict[PodKey, float] = {}
        self.running: dict[PodKey, float] = {}  # when a super pod was first seen Running

    def note(self, event_type: str, obj: KubeObject, now: float) -> None:
        if event_type == "DELETED":
            return
        annotations = obj["metadata"].get("annotations") or {}
        key = (
            mapping.vc_uid_of(obj) or "",
            annotations.get(mapping.TENANT_NAMESPACE, ""),
            annotations.get(mapping.TENANT_NAME, ""),
        )
        self.arrived.setdefault(key, now)
        if (obj.get("status") or {}).get("phase") == "Running":
            self.running.setdefault(key, now)

    def latencies(self, returned: dict[PodKey, float]) -> list[float] | None:
        """Seconds from each create call's return to its super copy; None while one is missing.

        A super copy may be seen a few milliseconds before the tenant's create answer is read;
        such latencies are negative and kept as they are.
        """
        if any(key not in self.arrived for key in returned):
            return None
        return [self.arrived[key] - moment for key, moment in returned.items()]


class LogFollower:
    """Reads a JSON-lines log file from an offset on, one event at a time."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self._partial = b""

    def new_events(self) -> list[KubeObject]:
        with self.path.open("rb") as stream:
            stream.seek(self.offset)
            data = stream.read()
        self.offset += len(data)
        *lines, self._partial = (self._partial + data).split(b"\n")
        events = []
        for line in lines:
            with contextlib.suppress(orjson.JSONDecodeError):
                decoded = orjson.loads(line)
                if isinstance(decoded, dict):
                    events.append(decoded)
        return events


def percentile(samples: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile (p99 of fewer than 100 samples is their maximum)."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (0 when it is gone)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # the name may hold spaces; fields 3.. follow
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def deep_size(value: object, seen: set[int] | None = None) -> int:
    """Bytes a decoded JSON value holds in this interpreter, shared parts counted once."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return 0
    seen.add(id(value))
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(deep_size(key, seen) + deep_size(item, seen) for key, item in value.items())
    elif isinstance(value, list):
        size += sum(deep_size(item, seen) for item in value)
    return size


async def default_account(client: kube_client.Client, namespace: str) -> None:
    """Pods are refused until the namespace's `default` ServiceAccount exists."""

    async def exists() -> bool:
        try:
            await client.get(resources.SERVICEACCOUNTS.path(namespace, "default"))
        except errors.ApiError:
            return False
        return True

    await wait.until(exists, timeout=120, what=f"ServiceAccount {namespace}/default")


def commit() -> str:
    """The commit measured, marked when the working tree differs from it."""
    root = pathlib.Path(__file__).resolve().parent.parent
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=root, check=False)
    return head.stdout.strip() + ("+changes" if dirty.returncode else "")
