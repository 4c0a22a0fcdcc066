"""How long `atoll up` takes to a ready super-cluster, and what each of its processes weighs.

Each round, side by side on the same machine:
  baseline  etcd + kube-apiserver started bare, until /readyz answers (nothing else);
  fresh     `atoll up` on an empty state folder (certificates, etcd bootstrap, nodes Ready);
  warm      `atoll up` again on the same folder after `atoll down` (the everyday case).
The figures are medians and maxima over the rounds, and ratios to the baseline.

Run: .venv/bin/python bench/local_up.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import pathlib
import shutil
import statistics
import tempfile
import time

import common
from atoll.local import cluster, state


def timed_up(folder: state.StateDir) -> float:
    started = time.monotonic()
    cluster.up(folder, timeout=240)
    return time.monotonic() - started


def resident_memory(folder: state.StateDir) -> dict[str, float]:
    """RSS in MiB of the supervisor and each component."""
    status = folder.read_status()
    assert status is not None
    pids = {"supervisor": status.supervisor_pid, **status.pids}
    return {name: common.rss_mib(pid) for name, pid in pids.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    options = parser.parse_args()
    common.stop_cleanly_on_sigterm()

    bare: list[float] = []
    fresh: list[float] = []
    warm: list[float] = []
    memory: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="atoll-bench-") as scratch:
        for round_number in range(options.rounds):
            root = pathlib.Path(scratch) / f"round-{round_number}"
            bare.append(common.bare_start(root / "bare"))

            folder = state.StateDir(root / "atoll")
            fresh.append(timed_up(folder))
            cluster.down(folder)
            warm.append(timed_up(folder))
            memory = resident_memory(folder)
            cluster.down(folder)
            shutil.rmtree(root)

    baseline = statistics.median(bare)
    print(f"rounds: {options.rounds}")
    print(
        f"baseline  median {baseline:6.2f} s   max {max(bare):6.2f} s   "
        "(etcd + kube-apiserver, bare)"
    )
    print(common.summary("fresh", fresh, baseline))
    print(common.summary("warm", warm, baseline))
    print("resident memory after a warm start (MiB):")
    for name, size in sorted(memory.items(), key=lambda item: -item[1]):
        print(f"  {name:<24} {size:7.1f}")
    print(f"  {'total':<24} {sum(memory.values()):7.1f}")


if __name__ == "__main__":
    main()
