"""Free TCP ports on loopback for the local super-cluster's components.

A port that a component used before is kept when it is still free, so kubeconfigs and
etcd's recorded peer address stay valid across restarts; a busy one is replaced.
"""

from __future__ import annotations

import socket

COMPONENT_PORTS = (
    "etcd",
    "etcd-peer",
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "atoll-operator",
    "atoll-operator-probes",
)


def is_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def pick_free(host: str = "127.0.0.1", avoid: frozenset[int] = frozenset()) -> int:
    """A port the kernel reports free now (another process may still take it later)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        if port not in avoid:
            return port


def allocate(previous: dict[str, int], names: tuple[str, ...] = COMPONENT_PORTS) -> dict[str, int]:
    """One port per name: the previous one when still free, otherwise a new free one."""
    chosen: dict[str, int] = {}
    for name in names:
        port = previous.get(name)
        if port is None or port in chosen.values() or not is_free(port):
            port = pick_free(avoid=frozenset(chosen.values()))
        chosen[name] = port
    return chosen
