"""Unit tests for `atoll.local.process.Registry`: recording, adopting and stopping processes.

These start real, short-lived local processes (`sleep`, or this Python): the registry is about
pids and command lines, which only real processes have. Every process a test starts is ended
by the `registries` fixture, and every wait has a deadline.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

import pytest

from atoll.local import process

if TYPE_CHECKING:
    import pathlib

DEADLINE = 5.0
SLEEP = ["/bin/sleep", "30"]
OTHER_SLEEP = ["/bin/sleep", "31"]


def wait_for(condition: Callable[[], bool], deadline: float = DEADLINE) -> bool:
    """Poll `condition` until it holds or `deadline` seconds pass; whether it held."""
    give_up = time.monotonic() + deadline
    while not condition():
        if time.monotonic() > give_up:
            return False
        time.sleep(0.02)
    return True


def gone(pid: int) -> bool:
    return wait_for(lambda: not process.pid_alive(pid))


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


class TrackedRegistry(process.Registry):
    """A Registry that remembers what it started, so teardown can end it even after a failure."""

    def __init__(self, folder: pathlib.Path) -> None:
        super().__init__(folder)
        self.started: dict[str, tuple[int, list[str]]] = {}

    def start(self, name: str, argv: Sequence[str], log_path: pathlib.Path) -> int:
        pid = super().start(name, argv, log_path)
        self.started[name] = (pid, list(argv))
        return pid

    def end_everything(self) -> None:
        for name, (pid, argv) in self.started.items():
            # The command line check keeps a reused pid safe from this SIGKILL.
            if process.pid_alive(pid) and process.command_line(pid) == argv:
                os.kill(pid, signal.SIGKILL)
                gone(pid)
            self.stop(name, DEADLINE)


@pytest.fixture
def registries() -> Iterator[Callable[[pathlib.Path], TrackedRegistry]]:
    made: list[TrackedRegistry] = []

    def make(folder: pathlib.Path) -> TrackedRegistry:
        made.append(TrackedRegistry(folder))
        return made[-1]

    yield make
    for registry in made:
        registry.end_everything()


@pytest.fixture
def registry(
    tmp_path: pathlib.Path, registries: Callable[[pathlib.Path], TrackedRegistry]
) -> TrackedRegistry:
    return registries(tmp_path / "run")


def log_of(registry: process.Registry, name: str) -> pathlib.Path:
    return registry.folder.parent / "logs" / f"{name}.log"


def write_record(registry: process.Registry, name: str, pid: int, argv: list[str]) -> None:
    registry.folder.mkdir(parents=True, exist_ok=True)
    (registry.folder / f"{name}.json").write_text(json.dumps({"pid": pid, "argv": argv}))


def test_start_records_the_pid_and_argv(registry: TrackedRegistry) -> None:
    pid = registry.start("etcd", SLEEP, log_of(registry, "etcd"))

    record = json.loads((registry.folder / "etcd.json").read_text())
    assert record == {"pid": pid, "argv": SLEEP}
    assert registry.names() == ["etcd"]
    assert process.pid_alive(pid)
    assert process.command_line(pid) == SLEEP
    assert "--- start" in log_of(registry, "etcd").read_text()


def test_running_returns_the_pid_only_for_the_recorded_argv(registry: TrackedRegistry) -> None:
    pid = registry.start("etcd", SLEEP, log_of(registry, "etcd"))

    assert registry.running("etcd") == pid
    assert registry.running("etcd", SLEEP) == pid
    assert registry.running("etcd", OTHER_SLEEP) is None
    assert registry.running("kube-apiserver") is None


@pytest.mark.parametrize("content", ["", "not json", '{"pid": 1, "argv": ['])
def test_an_unreadable_record_counts_as_not_running(
    registry: TrackedRegistry, content: str
) -> None:
    registry.folder.mkdir(parents=True)
    (registry.folder / "etcd.json").write_text(content)

    assert registry.running("etcd") is None


def test_a_recorded_pid_that_runs_another_command_is_not_trusted(
    registry: TrackedRegistry,
) -> None:
    # This test process is alive, but its command line is not the recorded one: a reused pid.
    write_record(registry, "etcd", os.getpid(), SLEEP)

    assert registry.running("etcd") is None
    assert registry.running("etcd", SLEEP) is None


def test_stop_leaves_alone_a_pid_that_runs_another_command(registry: TrackedRegistry) -> None:
    with subprocess.Popen(SLEEP) as stranger:
        try:
            write_record(registry, "etcd", stranger.pid, OTHER_SLEEP)

            registry.stop("etcd", DEADLINE)

            assert stranger.poll() is None, "a process the registry did not start was stopped"
            assert registry.names() == []
        finally:
            stranger.kill()
            stranger.wait(timeout=DEADLINE)


def test_a_process_that_exited_is_no_longer_running(registry: TrackedRegistry) -> None:
    pid = registry.start("etcd", ["/bin/true"], log_of(registry, "etcd"))
    assert gone(pid)

    assert registry.running("etcd") is None
    assert registry.running("etcd", ["/bin/true"]) is None


def test_stop_terminates_the_process_and_removes_its_record(registry: TrackedRegistry) -> None:
    pid = registry.start("etcd", SLEEP, log_of(registry, "etcd"))

    registry.stop("etcd", DEADLINE)

    assert not process.pid_alive(pid)
    assert registry.running("etcd") is None
    assert registry.names() == []
    assert not (registry.folder / "etcd.json").exists()


def test_stop_of_an_unknown_name_does_nothing(registry: TrackedRegistry) -> None:
    registry.stop("etcd", DEADLINE)

    assert registry.running("etcd") is None


def test_stop_kills_a_process_that_ignores_sigterm(registry: TrackedRegistry) -> None:
    ready = registry.folder.parent / "ignoring-sigterm"
    argv = python(
        "import pathlib, signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "pathlib.Path(sys.argv[1]).touch()\n"
        "time.sleep(30)\n"
    )
    argv.append(str(ready))
    pid = registry.start("stubborn", argv, log_of(registry, "stubborn"))
    assert wait_for(ready.exists), "the child never set up its SIGTERM handler"

    started = time.monotonic()
    registry.stop("stubborn", deadline=0.5)

    assert not process.pid_alive(pid)
    assert time.monotonic() - started >= 0.5
    assert registry.names() == []


def test_stop_all_stops_every_recorded_process(registry: TrackedRegistry) -> None:
    names = ["etcd", "kube-apiserver", "kube-controller-manager"]
    pids = [registry.start(name, SLEEP, log_of(registry, name)) for name in names]
    assert registry.names() == names

    registry.stop_all(DEADLINE)

    assert [pid for pid in pids if process.pid_alive(pid)] == []
    assert registry.names() == []


def test_a_process_started_by_another_registry_is_adopted_and_can_be_stopped(
    registry: TrackedRegistry,
) -> None:
    pid = registry.start("etcd", SLEEP, log_of(registry, "etcd"))
    adopter = process.Registry(registry.folder)

    assert adopter.names() == ["etcd"]
    assert adopter.running("etcd", SLEEP) == pid
    adopter.stop("etcd", DEADLINE)

    assert not process.pid_alive(pid)
    assert adopter.running("etcd") is None
    assert registry.running("etcd") is None
    assert registry.names() == []


def test_watch_reports_liveness_and_the_log_tail(registry: TrackedRegistry) -> None:
    argv = python("import time\nprint('listening', flush=True)\ntime.sleep(30)\n")
    registry.start("etcd", argv, log_of(registry, "etcd"))
    watched = registry.watch("etcd", log_of(registry, "etcd"))

    assert watched.alive
    assert wait_for(lambda: "listening" in watched.log_tail()), watched.log_tail()
    registry.stop("etcd", DEADLINE)

    assert not watched.alive


def test_stop_registered_stops_processes_in_nested_run_folders(
    tmp_path: pathlib.Path, registries: Callable[[pathlib.Path], TrackedRegistry]
) -> None:
    folders = [tmp_path / "run", tmp_path / "vc" / "a" / "run", tmp_path / "vc" / "b" / "c" / "run"]
    pids = []
    for index, folder in enumerate(folders):
        nested = registries(folder)
        pids += [
            nested.start(name, SLEEP, tmp_path / "logs" / f"{index}-{name}.log")
            for name in ("etcd", "kube-apiserver")
        ]
    unregistered = registries(tmp_path / "vc" / "d" / "pki")
    outside = unregistered.start("etcd", SLEEP, tmp_path / "logs" / "outside.log")

    process.stop_registered(tmp_path, DEADLINE)

    assert [pid for pid in pids if process.pid_alive(pid)] == []
    assert [process.Registry(folder).names() for folder in folders] == [[], [], []]
    assert process.pid_alive(outside), "a process outside any run/ folder was stopped"
