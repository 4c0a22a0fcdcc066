"""Cutting and restoring a pool's link, driven by a small JSON control file.

`atoll pool disconnect/reconnect` writes `{"disconnected": ["hangzhou"]}` with
`write_control`; the simulator polls the file's signature every second and re-reads it only
when it changed. `Links` holds the outcome: the nodes of a disconnected pool stop their
heartbeats and the simulator leaves their pods alone, exactly as if the site's link were cut;
whoever waits on `next_reconnect` learns at once when the link comes back.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import tempfile
from collections.abc import Callable, Iterable

import structlog

log = structlog.get_logger("atoll.nodesim.control")

Signature = tuple[int, int, int]


def read_control(path: pathlib.Path) -> frozenset[str]:
    """The disconnected pools named in the control file; none when the file is missing."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return frozenset()

    try:
        document = json.loads(text) if text.strip() else {}
    except json.JSONDecodeError as error:
        raise ValueError(f"control file {path} is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise ValueError(f"control file {path}: expected an object like {{'disconnected': []}}")

    pools = document.get("disconnected", [])
    if not isinstance(pools, list) or not all(isinstance(pool, str) for pool in pools):
        raise ValueError(f"control file {path}: 'disconnected' must be a list of pool names")
    return frozenset(pools)


def write_control(path: pathlib.Path, disconnected: Iterable[str]) -> None:
    """Replace the control file atomically (temp file + rename): no reader sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    content = json.dumps({"disconnected": sorted(set(disconnected))}) + "\n"

    descriptor, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "w") as handle:
            handle.write(content)
        pathlib.Path(scratch).replace(path)
    except BaseException:
        pathlib.Path(scratch).unlink(missing_ok=True)
        raise


class Links:
    """Which pools are cut off; connected unless named in the control file."""

    def __init__(self, disconnected: frozenset[str] = frozenset()) -> None:
        self.disconnected = disconnected
        self._reconnects: dict[str, asyncio.Event] = {}

    def is_connected(self, pool: str) -> bool:
        return pool not in self.disconnected

    def next_reconnect(self, pool: str) -> asyncio.Event:
        """An event set the next time `pool` comes back; take it before checking the link."""
        return self._reconnects.setdefault(pool, asyncio.Event())

    def update(self, disconnected: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
        """Switch to a new set of cut pools; returns the pools `(cut, restored)`."""
        cut = disconnected - self.disconnected
        restored = self.disconnected - disconnected
        self.disconnected = disconnected

        for pool in restored:
            waiting = self._reconnects.pop(pool, None)
            if waiting is not None:
                waiting.set()
        return cut, restored


class ControlFile:
    """The control file, read again only when its signature (mtime, inode, size) changes."""

    def __init__(self, path: pathlib.Path) -> None:
        self.path = path
        self._seen: Signature | None = None
        self._read_once = False

    def poll(self) -> frozenset[str] | None:
        """The pools it names if the file changed since the last poll, else None."""
        signature = _signature(self.path)
        if self._read_once and signature == self._seen:
            return None
        self._seen = signature
        self._read_once = True

        try:
            return read_control(self.path)
        except (OSError, ValueError) as error:
            log.warning("control_unreadable", path=str(self.path), error=str(error))
            return None


async def follow(
    control: ControlFile,
    links: Links,
    on_restored: Callable[[frozenset[str]], None],
    *,
    known_pools: frozenset[str] | None = None,
    interval: float = 1.0,
) -> None:
    """Apply every change of the control file to `links`, forever; cancel to stop."""
    while True:
        disconnected = control.poll()
        if disconnected is not None:
            if known_pools is not None and (unknown := disconnected - known_pools):
                log.warning("control_names_unknown_pools", pools=sorted(unknown))
            cut, restored = links.update(disconnected)
            if cut:
                log.info("pools_disconnected", pools=sorted(cut))
            if restored:
                log.info("pools_reconnected", pools=sorted(restored))
                on_restored(restored)
        await asyncio.sleep(interval)


def _signature(path: pathlib.Path) -> Signature | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_ino, stat.st_size)
