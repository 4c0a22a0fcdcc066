"""Finding the Kubernetes binaries atoll runs: etcd, kine, kube-apiserver and friends.

Each binary is looked up, in order, in `$ATOLL_KUBE_BIN`, in envtest's `$KUBEBUILDER_ASSETS`
and in the shared build cache filled by `hack/build-kube.sh`. Users who already hold the
binaries skip the build; envtest's folder lacks the controller-manager and scheduler, which
then come from the cache.
"""

from __future__ import annotations

import os
import pathlib

from atoll.core import paths

CONTROL_PLANE = ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler")


class MissingBinary(Exception):
    """A binary atoll needs is in none of the folders it searches."""


def search_path() -> list[pathlib.Path]:
    folders = [os.environ.get("ATOLL_KUBE_BIN"), os.environ.get("KUBEBUILDER_ASSETS")]
    return [pathlib.Path(folder) for folder in folders if folder] + [paths.kube_bin_cache()]


def find(name: str) -> pathlib.Path:
    """The path of binary `name`, or `MissingBinary` with what to do about it."""
    folders = search_path()
    for folder in folders:
        candidate = folder / name
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate

    searched = ", ".join(str(folder) for folder in folders)
    raise MissingBinary(
        f"{name} not found (searched {searched}). Build the pinned Kubernetes binaries with "
        f"`make binaries` (needs Go 1.26 or newer), or set ATOLL_KUBE_BIN to a folder that "
        f"holds {', '.join(CONTROL_PLANE)} for {paths.KUBE_VERSION}."
    )


def find_all(names: tuple[str, ...] = CONTROL_PLANE) -> dict[str, pathlib.Path]:
    """Every binary of `names`; reports all the missing ones in a single error."""
    found: dict[str, pathlib.Path] = {}
    missing: list[str] = []
    for name in names:
        try:
            found[name] = find(name)
        except MissingBinary:
            missing.append(name)
    if missing:
        raise MissingBinary(
            f"missing Kubernetes binaries: {', '.join(missing)}. Run `make binaries` "
            f"(needs Go 1.26 or newer) or set ATOLL_KUBE_BIN to a folder that holds them "
            f"(searched {', '.join(str(folder) for folder in search_path())})."
        )
    return found
