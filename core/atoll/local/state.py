"""The state folder of a local super-cluster and the status file its supervisor keeps.

Layout under the state folder:
  state.json          what the supervisor is doing (phase, ports, pids, error)
  supervisor.lock     held (flock) by the running supervisor: the one truth of "is it up"
  super.kubeconfig    admin access for users
  pki/                certificates and keys, mode 0600
  etcd/               the super-cluster's data
  logs/<component>.log
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import pathlib
from typing import IO, Any, Literal

Phase = Literal["starting", "ready", "stopping", "stopped", "failed"]


@dataclasses.dataclass
class ClusterStatus:
    """What `state.json` holds; written by the supervisor, read by the CLI."""

    phase: Phase = "starting"
    message: str = ""
    supervisor_pid: int = 0
    ports: dict[str, int] = dataclasses.field(default_factory=dict)
    pids: dict[str, int] = dataclasses.field(default_factory=dict)
    pools: str = ""
    error_log: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class StateDir:
    """Paths inside one state folder."""

    root: pathlib.Path

    @property
    def status_file(self) -> pathlib.Path:
        return self.root / "state.json"

    @property
    def lock_file(self) -> pathlib.Path:
        return self.root / "supervisor.lock"

    @property
    def kubeconfig(self) -> pathlib.Path:
        return self.root / "super.kubeconfig"

    @property
    def pki(self) -> pathlib.Path:
        return self.root / "pki"

    @property
    def etcd_data(self) -> pathlib.Path:
        return self.root / "etcd"

    @property
    def logs(self) -> pathlib.Path:
        return self.root / "logs"

    @property
    def nodesim_control(self) -> pathlib.Path:
        return self.root / "nodesim-control.json"

    def log_file(self, component: str) -> pathlib.Path:
        return self.logs / f"{component}.log"

    def prepare(self) -> None:
        for folder in (self.root, self.pki, self.logs):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def read_status(self) -> ClusterStatus | None:
        try:
            raw: dict[str, Any] = json.loads(self.status_file.read_text())
        except (OSError, ValueError):
            return None
        known = {field.name for field in dataclasses.fields(ClusterStatus)}
        return ClusterStatus(**{key: value for key, value in raw.items() if key in known})

    def write_status(self, status: ClusterStatus) -> None:
        scratch = self.status_file.with_suffix(".tmp")
        scratch.write_text(json.dumps(dataclasses.asdict(status), indent=2))
        scratch.replace(self.status_file)

    def is_locked(self) -> bool:
        """Whether a supervisor holds this folder (it may be starting, running or stopping)."""
        if not self.lock_file.exists():
            return False
        with self.lock_file.open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            fcntl.flock(handle, fcntl.LOCK_UN)
            return False


class AlreadyRunning(Exception):
    """Another supervisor holds this state folder."""


def acquire_lock(state: StateDir) -> IO[str]:
    """Take the folder's lock for the life of this process; the handle must stay open."""
    state.prepare()
    handle = state.lock_file.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        handle.close()
        raise AlreadyRunning(f"a local super-cluster is already running in {state.root}") from error
    os.set_inheritable(handle.fileno(), False)
    return handle
