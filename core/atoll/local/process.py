"""One supervised child process: started with its output in a log file, stopped with a deadline.

Children die with their supervisor: the kernel sends them SIGKILL when the process that
started them exits (PR_SET_PDEATHSIG), so even a supervisor killed with SIGKILL leaves no
orphan behind. A clean stop sends SIGTERM and escalates to SIGKILL after a deadline.
"""

from __future__ import annotations

import collections
import ctypes
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
