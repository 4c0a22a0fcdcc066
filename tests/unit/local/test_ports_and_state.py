"""Port choice and the state folder of the local super-cluster."""

from __future__ import annotations

import pathlib
import socket

import pytest

from atoll.local import ports, state


def test_previous_ports_are_kept_when_free() -> None:
    previous = ports.allocate({})

    again = ports.allocate(previous)

    assert again == previous


def test_a_busy_previous_port_is_replaced() -> None:
    previous = ports.allocate({})
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", previous["kube-apiserver"]))
        squatter.listen()

        again = ports.allocate(previous)

    assert again["kube-apiserver"] != previous["kube-apiserver"]
    assert len(set(again.values())) == len(again)


def test_status_round_trips_and_ignores_unknown_keys(tmp_path: pathlib.Path) -> None:
    folder = state.StateDir(tmp_path)
    folder.prepare()
    written = state.ClusterStatus(
        phase="ready", supervisor_pid=42, ports={"etcd": 1}, pids={"etcd": 43}, pools="cloud:1"
    )
    folder.write_status(written)
    folder.status_file.write_text(
        folder.status_file.read_text().replace('"phase"', '"from_a_newer_version": 1, "phase"')
    )

    assert folder.read_status() == written


def test_lock_is_exclusive_and_released_with_its_handle(tmp_path: pathlib.Path) -> None:
    folder = state.StateDir(tmp_path)

    handle = state.acquire_lock(folder)
    try:
        assert folder.is_locked()
        with pytest.raises(state.AlreadyRunning, match=str(tmp_path)):
            state.acquire_lock(folder)
    finally:
        handle.close()

    assert not folder.is_locked()
