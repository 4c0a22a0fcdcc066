"""The pool layout of the simulated nodes: which pools exist, how many nodes each holds.

A layout is written on the command line as `cloud:1,hangzhou:3,shanghai:2`. It is parsed
and checked here, before anything talks to an API server, and turned into the list of
`SimNode`s every other part of the simulator works from. Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable

POOL_LABEL = "apps.openyurt.io/nodepool"
MAX_NODES_PER_POOL = 200
MAX_NODES = 2048
MAX_POOL_NAME = 40

_POOL_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_KINDS = {"edge": True, "cloud": False}


@dataclasses.dataclass(frozen=True)
class PoolSpec:
    """One pool of simulated nodes; `edge` pools are the ones whose link may drop."""

    name: str
    nodes: int
    edge: bool


@dataclasses.dataclass(frozen=True)
class SimNode:
    """One simulated node; `index` is its place in the whole layout, unique per process."""

    name: str
    pool: str
    edge: bool
    index: int


def parse_pools(text: str) -> tuple[PoolSpec, ...]:
    """Parse `name:count[:edge|cloud],…`; a `ValueError` says what to fix."""
    entries = [entry.strip() for entry in text.split(",") if entry.strip()]
    if not entries:
        raise ValueError("no pools given: write at least one pool, e.g. 'cloud:1,edge-a:2'")

    pools = tuple(_parse_entry(entry) for entry in entries)

    seen: set[str] = set()
    for pool in pools:
        if pool.name in seen:
            raise ValueError(f"pool {pool.name!r} is listed twice: give each pool one entry")
        seen.add(pool.name)

    total = sum(pool.nodes for pool in pools)
    if total > MAX_NODES:
        raise ValueError(f"{total} nodes in all: the simulator runs at most {MAX_NODES}")
    return pools


def _parse_entry(entry: str) -> PoolSpec:
    parts = [part.strip() for part in entry.split(":")]
    if len(parts) not in (2, 3):
        raise ValueError(f"pool entry {entry!r}: write 'name:count' or 'name:count:edge|cloud'")
    name, count_text = parts[0], parts[1]

    if not name:
        raise ValueError(f"pool entry {entry!r}: the pool needs a name before ':'")
    if len(name) > MAX_POOL_NAME:
        raise ValueError(f"pool {name!r}: names are at most {MAX_POOL_NAME} characters")
    if not _POOL_NAME.fullmatch(name):
        raise ValueError(
            f"pool {name!r}: names are lowercase letters, digits and '-', "
            "starting and ending with a letter or digit"
        )

    try:
        count = int(count_text)
    except ValueError:
        raise ValueError(
            f"pool {name!r}: node count {count_text!r} is not a whole number"
        ) from None
    if not 0 <= count <= MAX_NODES_PER_POOL:
        raise ValueError(
            f"pool {name!r}: node count {count} is out of range 0..{MAX_NODES_PER_POOL}"
        )

    if len(parts) == 2:
        return PoolSpec(name=name, nodes=count, edge=name != "cloud")
    kind = parts[2].lower()
    if kind not in _KINDS:
        raise ValueError(f"pool {name!r}: kind {parts[2]!r} must be 'edge' or 'cloud'")
    return PoolSpec(name=name, nodes=count, edge=_KINDS[kind])


def format_pools(pools: Iterable[PoolSpec]) -> str:
    """The text `parse_pools` reads back; the kind is written only where the name hides it."""
    entries = []
    for pool in pools:
        implied_edge = pool.name != "cloud"
        suffix = "" if pool.edge == implied_edge else (":edge" if pool.edge else ":cloud")
        entries.append(f"{pool.name}:{pool.nodes}{suffix}")
    return ",".join(entries)


def node_names(pool: PoolSpec) -> list[str]:
    """The node names of a pool: `<pool>-0`, `<pool>-1`, …"""
    return [f"{pool.name}-{number}" for number in range(pool.nodes)]


def sim_nodes(pools: Iterable[PoolSpec]) -> tuple[SimNode, ...]:
    """Every node of the layout, numbered in layout order."""
    named = [(pool, name) for pool in pools for name in node_names(pool)]
    return tuple(
        SimNode(name=name, pool=pool.name, edge=pool.edge, index=index)
        for index, (pool, name) in enumerate(named)
    )


DEFAULT_POOLS = parse_pools("cloud:1,edge-a:2,edge-b:2")
