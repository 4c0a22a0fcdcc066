"""One supervised child process: started with its output in a log file, stopped with a deadline.

Children die with their supervisor: the kernel sends them SIGKILL when the process that
started them exits (PR_SET_PDEATHSIG), so even a supervisor killed with SIGKILL leaves no
orphan behind. A clean stop sends SIGTERM and escalates to SIGKILL after a deadline.
"""

from __future__ import annotations

import collections
import concurrent.futures
import ctypes
import json
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

_PR_SET_PDEATHSIG = 1


# Resolved once here: between fork and exec the child may only make the prctl call itself.
_prctl = ctypes.CDLL(None, use_errno=True).prctl


def _die_with_parent() -> None:
    _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class ChildProcess:
    """A component process; `start()` it, poll `alive`, `stop()` it."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: pathlib.Path,
        *,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.env = dict(env) if env is not None else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def exit_code(self) -> int | None:
        return self._process.poll() if self._process else None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(f"\n--- start {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
            log.flush()
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - it only calls prctl
                close_fds=True,
            )

    def stop(self, deadline: float = 10.0) -> None:
        """SIGTERM, wait up to `deadline` seconds, then SIGKILL; returns once it is gone."""
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait(timeout=deadline)

    def log_tail(self, lines: int = 20) -> list[str]:
        """The last lines this component wrote, to explain why it stopped."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(max(0, self.log_path.stat().st_size - 64 * 1024))
                tail = collections.deque(
                    log.read().decode("utf-8", "replace").splitlines(), maxlen=lines
                )
        except OSError:
            return []
        return list(tail)


def pid_alive(pid: int) -> bool:
    """Whether `pid` is a live process (a zombie waiting to be reaped counts as gone)."""
    try:
        stat = pathlib.Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def command_line(pid: int) -> list[str]:
    """The argv of `pid`, or [] when it is gone.

    Between the moment exec() closes the starter's pipe and the moment the new program's
    arguments are in place, the kernel reports an empty command line; a short retry rides that
    window out instead of mistaking a fresh process for a stranger.
    """
    for _attempt in range(20):
        try:
            raw = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return []
        if raw:
            return raw.decode("utf-8", "replace").split("\0")[:-1]
        time.sleep(0.005)
    return []


def terminate(pid: int, deadline: float) -> None:
    """SIGTERM a process we may not be the parent of, SIGKILL it after `deadline` seconds."""
    for stop_signal, wait in ((signal.SIGTERM, deadline), (signal.SIGKILL, deadline)):
        try:
            os.kill(pid, stop_signal)
        except ProcessLookupError:
            return
        give_up = time.monotonic() + wait
        while pid_alive(pid) and time.monotonic() < give_up:
            time.sleep(0.05)
        if not pid_alive(pid):
            return


class Registry:
    """Processes that outlive their starter, recorded as `<folder>/<name>.json`.

    The operator's process provisioner starts tenant control planes with it: after an
    operator restart it adopts what still runs instead of starting duplicates, and
    `atoll down` stops whatever is recorded. A record counts only while the process's
    command line still equals the recorded one, since pids are reused.
    """

    def __init__(self, folder: pathlib.Path) -> None:
        self.folder = folder
        self._children: dict[str, subprocess.Popen[bytes]] = {}

    def _record(self, name: str) -> pathlib.Path:
        return self.folder / f"{name}.json"

    def running(self, name: str, argv: Sequence[str] | None = None) -> int | None:
        """The pid of `name` if it runs (with exactly `argv`, when given)."""
        child = self._children.get(name)
        own_child_runs = child is not None and child.poll() is None  # poll() reaps a zombie
        try:
            record = json.loads(self._record(name).read_text())
        except (OSError, ValueError):
            return None
        pid = int(record["pid"])

        # A child of this registry is known by its pid alone: just after exec the kernel
        # briefly shows an empty command line, which must not read as "something else runs".
        mine = own_child_runs and child is not None and child.pid == pid
        if not mine and (not pid_alive(pid) or command_line(pid) != record["argv"]):
            return None
        if argv is not None and list(argv) != record["argv"]:
            return None
        return pid

    def start(self, name: str, argv: Sequence[str], log_path: pathlib.Path) -> int:
        """Start `argv` in the background, its output appended to `log_path`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            log.write(f"\n--- start {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
            log.flush()
            child = subprocess.Popen(
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                close_fds=True,
            )
        self._children[name] = child
        scratch = self._record(name).with_suffix(".tmp")
        scratch.write_text(json.dumps({"pid": child.pid, "argv": list(argv)}))
        scratch.replace(self._record(name))
        return child.pid

    def stop(self, name: str, deadline: float = 10.0) -> None:
        pid = self.running(name)
        if pid is not None:
            terminate(pid, deadline)
        child = self._children.pop(name, None)
        if child is not None:
            child.poll()
        self._record(name).unlink(missing_ok=True)

    def watch(self, name: str, log_path: pathlib.Path) -> RecordedProcess:
        """A view of `name` that health checks can wait on."""
        return RecordedProcess(self, name, log_path)

    def names(self) -> list[str]:
        return sorted(path.stem for path in self.folder.glob("*.json"))

    def stop_all(self, deadline: float = 10.0) -> None:
        for name in reversed(self.names()):
            self.stop(name, deadline)


def stop_registered(root: pathlib.Path, deadline: float = 10.0) -> None:
    """Stop every process recorded in any registry folder below `root`.

    The folders (one per tenant control plane) are independent, so they stop side by side;
    within one, processes stop in the registry's order.
    """
    folders = sorted({record.parent for record in root.glob("**/run/*.json")})
    if not folders:
        return
    with concurrent.futures.ThreadPoolExecutor(max_workers=min(len(folders), 32)) as pool:
        for stopped in [pool.submit(Registry(folder).stop_all, deadline) for folder in folders]:
            stopped.result()


class RecordedProcess:
    """A registry's process seen as something to wait on: alive, exit code, last words."""

    def __init__(self, registry: Registry, name: str, log_path: pathlib.Path) -> None:
        self._registry = registry
        self.name = name
        self.log_path = log_path

    @property
    def alive(self) -> bool:
        return self._registry.running(self.name) is not None

    @property
    def exit_code(self) -> int | None:
        child = self._registry._children.get(self.name)
        return child.poll() if child is not None else None

    def log_tail(self, lines: int = 20) -> list[str]:
        return ChildProcess(self.name, [], self.log_path).log_tail(lines)
