"""The vocabulary of the pod security rules: levels, the pod as the rules read it, a verdict.

`baseline` and `restricted` hold the rules themselves; the package's `violations` runs them.
Everything here reads raw pod JSON and never changes it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

LEVELS = ("privileged", "baseline", "restricted")

# Capabilities a container runtime grants by default: adding them back is harmless.
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
RESTRICTED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
# Namespaced sysctls that cannot reach other pods on the node.
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.ping_group_range",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_notsent_lowat",
        "net.ipv4.tcp_rmem",
        "net.ipv4.tcp_slow_start_after_idle",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.tcp_wmem",
    }
)
SELINUX_TYPES = frozenset(
    {"", "container_t", "container_init_t", "container_kvm_t", "container_engine_t"}
)
PROFILE_TYPES = frozenset({"RuntimeDefault", "Localhost"})  # for seccomp and AppArmor alike
RESTRICTED_VOLUMES = (
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "image",
    "persistentVolumeClaim",
    "projected",
    "secret",
)
APPARMOR_ANNOTATION = "container.apparmor.security.beta.kubernetes.io/"
CONTAINER_KINDS = (
    ("initContainers", "init container"),
    ("containers", "container"),
    ("ephemeralContainers", "ephemeral container"),
)
PROBES = ("livenessProbe", "readinessProbe", "startupProbe")
LIFECYCLE_HANDLERS = ("postStart", "preStop")
SUMMARY_ITEMS = 5  # the rest of a long list is counted, not spelled out


@dataclasses.dataclass(frozen=True)
class Violation:
    """One rule a pod breaks, said in the pod's own field names."""

    rule: str  # short id, e.g. "privileged", "hostPath", "runAsNonRoot"
    where: str  # "pod", "container web", "init container setup", "volume data"…
    refused: str  # what the pod sets or leaves out
    fix: str  # the change that makes it comply
    allowed_at: str  # the least strict level that allows it

    @property
    def message(self) -> str:
        return (
            f"{self.refused}: {self.fix} (or the VirtualCluster's spec.isolation.podSecurity "
            f"would have to be {self.allowed_at})"
        )


@dataclasses.dataclass(frozen=True)
class PodView:
    """The parts of a pod the rules read, with missing and null fields as empty ones."""

    annotations: Mapping[str, Any]
    spec: Mapping[str, Any]
    context: Mapping[str, Any]  # the pod-level securityContext
    containers: tuple[tuple[str, Mapping[str, Any]], ...]  # (where, container), all kinds

    @classmethod
    def of(cls, tenant_pod: Mapping[str, Any]) -> PodView:
        spec = tenant_pod.get("spec") or {}
        return cls(
            annotations=(tenant_pod.get("metadata") or {}).get("annotations") or {},
            spec=spec,
            context=spec.get("securityContext") or {},
            containers=tuple(
                (f"{kind} {container.get('name')}", container)
                for field, kind in CONTAINER_KINDS
                for container in spec.get(field) or []
            ),
        )

    @property
    def windows(self) -> bool:
        return (self.spec.get("os") or {}).get("name") == "windows"

    @property
    def user_namespaced(self) -> bool:
        return self.spec.get("hostUsers") is False

    def container_contexts(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """Every container's securityContext (empty where unset)."""
        for where, container in self.containers:
            yield where, container.get("securityContext") or {}

    def contexts(self) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """The pod's securityContext, then every container's."""
        yield "pod", self.context
        yield from self.container_contexts()


Check = Callable[[PodView], Iterator[Violation]]  # one rule: a pod in, what it breaks out


def baseline_rule(rule: str, where: str, refused: str, fix: str) -> Violation:
    """A baseline rule broken: only `privileged` allows it."""
    return Violation(rule, where, refused, fix, allowed_at="privileged")


def restricted_rule(rule: str, where: str, refused: str, fix: str) -> Violation:
    """A restricted rule broken: `baseline` allows it."""
    return Violation(rule, where, refused, fix, allowed_at="baseline")


def listed(values: Sequence[Any]) -> str:
    """Values as a comma-separated list, for a message."""
    return ", ".join(str(value) for value in values)
