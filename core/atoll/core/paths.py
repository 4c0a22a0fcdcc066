"""Where atoll keeps things on disk.

State (the local super-cluster, tenant control planes of the `process` provisioner) goes
under `$ATOLL_STATE_DIR`, else `$XDG_STATE_HOME/atoll`, else `~/.local/state/atoll`. Built
Kubernetes binaries go under `$XDG_CACHE_HOME/atoll`, else `~/.cache/atoll`, so that every
clone on a machine shares one build.
"""

from __future__ import annotations

import os
import pathlib

KUBE_VERSION = "v1.37.2"


def state_dir() -> pathlib.Path:
    """The default state folder of the local super-cluster."""
    if explicit := os.environ.get("ATOLL_STATE_DIR"):
        return pathlib.Path(explicit).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or pathlib.Path.home() / ".local" / "state"
    return pathlib.Path(base) / "atoll"


def cache_dir() -> pathlib.Path:
    base = os.environ.get("XDG_CACHE_HOME") or pathlib.Path.home() / ".cache"
    return pathlib.Path(base) / "atoll"


def kube_bin_cache() -> pathlib.Path:
    """Where `hack/build-kube.sh` puts the binaries of the pinned Kubernetes version."""
    return cache_dir() / "kube" / KUBE_VERSION / "bin"
