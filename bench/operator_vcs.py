"""How fast the operator turns a VirtualCluster into a working control plane, and its weight.

Measured on a fresh local super-cluster (operator included), side by side:
  baseline   etcd + kube-apiserver started bare by hand until /readyz, in the same run;
  one VC     `kubectl apply` of an empty VirtualCluster until phase Running AND its
             kubeconfig answers /version (process provisioner), one at a time;
  20 VCs     twenty applied at once: time until all work, and memory of their processes;
  operator   resident memory with 0 and with 20 idle VirtualClusters, per extra VC.

Run: .venv/bin/python bench/operator_vcs.py [--rounds 10] [--many 20]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import pathlib
import statistics
import tempfile
import time
import uuid

import common
from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources
from atoll.local import cluster, process, state


async def apply_until_working(api: kube_client.Client, namespace: str, name: str) -> float:
    """Seconds from the create call until the tenant's own kubeconfig answers."""
    started = time.monotonic()
    await api.create(
        atoll_api.VIRTUALCLUSTERS.path(namespace),
        {
            "apiVersion": atoll_api.API_VERSION,
            "kind": "VirtualCluster",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {},
        },
    )

    async def working() -> bool:
        try:
            vc = await api.get(atoll_api.VIRTUALCLUSTERS.path(namespace, name))
            if (vc.get("status") or {}).get("phase") != "Running":
                return False
            secret = await api.get(resources.SECRETS.path(namespace, f"{name}-kubeconfig"))
        except errors.NotFound:
            return False
        access = config.parse_kubeconfig(base64.b64decode(secret["data"]["value"]).decode())
        async with kube_client.Client(access, timeout=5) as tenant:
            try:
                return bool((await tenant.version())["gitVersion"])
            except errors.ApiError:
                return False

    await wait.until(working, timeout=600, interval=0.1, what=f"{name} to work")
    return time.monotonic() - started


async def delete_all(api: kube_client.Client, namespace: str, names: list[str]) -> None:
    for name in names:
        await api.delete(atoll_api.VIRTUALCLUSTERS.path(namespace, name))

    async def gone() -> bool:
        listing = await api.get(atoll_api.VIRTUALCLUSTERS.path(namespace))
        return not listing["items"]

    await wait.until(gone, timeout=600, what="VirtualClusters to be deleted")


def tenant_rss(state_root: pathlib.Path) -> float:
    total = 0.0
    for record in state_root.glob("vc/*/run/*.json"):
        pid = process.Registry(record.parent).running(record.stem)
        total += common.rss_mib(pid) if pid else 0.0
    return total


async def measure(folder: state.StateDir, rounds: int, many: int) -> None:
    access = config.load_kubeconfig(folder.kubeconfig)
    namespace = f"bench-{uuid.uuid4().hex[:6]}"
    async with kube_client.Client(access) as api:
        await api.create(resources.NAMESPACES.path(), {"metadata": {"name": namespace}})
        operator_pid = folder.read_status().pids["atoll-operator"]  # type: ignore[union-attr]
        idle_operator = common.rss_mib(operator_pid)

        bare: list[float] = []
        single: list[float] = []
        for round_number in range(rounds):
            with tempfile.TemporaryDirectory(prefix="atoll-bare-") as scratch:
                bare.append(await common.start_bare(pathlib.Path(scratch)))
            name = f"one-{round_number}"
            single.append(await apply_until_working(api, namespace, name))
            await delete_all(api, namespace, [name])

        names = [f"many-{index}" for index in range(many)]
        started = time.monotonic()
        await asyncio.gather(*(apply_until_working(api, namespace, name) for name in names))
        all_working = time.monotonic() - started
        loaded_operator = common.rss_mib(operator_pid)
        tenants = tenant_rss(folder.root)
        await delete_all(api, namespace, names)

    baseline = statistics.median(bare)
    print(f"rounds: {rounds}")
    print(common.summary("baseline", bare) + "   (etcd + kube-apiserver, bare)")
    print(common.summary("one VC", single, baseline))
    print(
        f"{many} VCs     all working after {all_working:6.1f} s; their processes "
        f"{tenants:7.0f} MiB ({tenants / many:5.0f} MiB per VC)"
    )
    print(
        f"operator   {idle_operator:6.1f} MiB idle, {loaded_operator:6.1f} MiB with {many} "
        f"VCs: {(loaded_operator - idle_operator) / many:5.2f} MiB per extra VC"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--many", type=int, default=20)
    options = parser.parse_args()
    common.stop_cleanly_on_sigterm()

    with tempfile.TemporaryDirectory(prefix="atoll-bench-") as scratch:
        folder = state.StateDir(pathlib.Path(scratch) / "state")
        cluster.up(folder, timeout=240)
        try:
            asyncio.run(measure(folder, options.rounds, options.many))
        finally:
            cluster.down(folder)


if __name__ == "__main__":
    main()
