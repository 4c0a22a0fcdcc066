"""Binary look-up: user folders first, then the build cache, and a clear error otherwise."""

from __future__ import annotations

import pathlib

import pytest

from atoll.core import binaries


def make_binary(folder: pathlib.Path, name: str) -> pathlib.Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def empty_environment(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> pathlib.Path:
    monkeypatch.delenv("ATOLL_KUBE_BIN", raising=False)
    monkeypatch.delenv("KUBEBUILDER_ASSETS", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path


def test_atoll_kube_bin_wins_over_envtest_and_cache(
    empty_environment: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mine = make_binary(empty_environment / "mine", "etcd")
    make_binary(empty_environment / "envtest", "etcd")
    monkeypatch.setenv("ATOLL_KUBE_BIN", str(mine.parent))
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(empty_environment / "envtest"))

    assert binaries.find("etcd") == mine


def test_envtest_folder_is_completed_from_the_cache(
    empty_environment: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    envtest = empty_environment / "envtest"
    for name in ("etcd", "kube-apiserver"):
        make_binary(envtest, name)
    cache = empty_environment / "cache" / "atoll" / "kube" / "v1.37.2" / "bin"
    for name in ("kube-controller-manager", "kube-scheduler"):
        make_binary(cache, name)
    monkeypatch.setenv("KUBEBUILDER_ASSETS", str(envtest))

    found = binaries.find_all()

    assert found["etcd"].parent == envtest
    assert found["kube-scheduler"].parent == cache


def test_missing_binaries_are_named_with_the_fix(empty_environment: pathlib.Path) -> None:
    make_binary(empty_environment / "cache" / "atoll" / "kube" / "v1.37.2" / "bin", "etcd")

    with pytest.raises(binaries.MissingBinary) as missing:
        binaries.find_all()

    message = str(missing.value)
    assert "kube-apiserver, kube-controller-manager, kube-scheduler" in message
    assert "make binaries" in message
    assert "ATOLL_KUBE_BIN" in message
    assert "binaries: etcd" not in message


def test_a_file_without_execute_permission_does_not_count(
    empty_environment: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = empty_environment / "mine"
    make_binary(folder, "etcd").chmod(0o644)
    monkeypatch.setenv("ATOLL_KUBE_BIN", str(folder))

    with pytest.raises(binaries.MissingBinary):
        binaries.find("etcd")
