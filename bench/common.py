"""Pieces the benchmarks share: the bare baseline, process memory, summaries."""

from __future__ import annotations

import asyncio
import pathlib
import signal
import statistics
import time

from atoll.core import binaries
from atoll.local import components, credentials, health, ports, process, state


async def start_bare(root: pathlib.Path) -> float:
    """etcd + kube-apiserver started by hand, timed from the first process to /readyz."""
    folder = state.StateDir(root)
    folder.prepare()
    found = binaries.find_all()
    material = credentials.ensure(folder.pki)
    chosen = ports.allocate({})
    plan = [
        components.etcd(found["etcd"], material, folder.etcd_data, chosen),
        components.kube_apiserver(found["kube-apiserver"], material, chosen),
    ]

    children: list[process.ChildProcess] = []
    started = time.monotonic()
    try:
        for component in plan:
            child = process.ChildProcess(
                component.name, component.argv, folder.log_file(component.name)
            )
            children.append(child)
            child.start()
            await health.wait_healthy(component, child, material, deadline=120)
        return time.monotonic() - started
    finally:
        for child in reversed(children):
            child.stop()


def stop_cleanly_on_sigterm() -> None:
    """Turn SIGTERM into SystemExit, so a benchmark stopped from outside still runs its
    `finally` blocks and takes its super-cluster down instead of leaving it running."""

    def leave(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, leave)


def bare_start(root: pathlib.Path) -> float:
    return asyncio.run(start_bare(root))


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB (0 when it is gone)."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return 0.0
    return 0.0


def summary(label: str, samples: list[float], baseline: float | None = None) -> str:
    median = statistics.median(samples)
    ratio = f"   ratio to baseline {median / baseline:5.2f}x" if baseline else ""
    return f"{label:<10} median {median:6.2f} s   max {max(samples):6.2f} s{ratio}"
