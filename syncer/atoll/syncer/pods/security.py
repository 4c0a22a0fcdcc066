"""Which Pod Security Standard rules a tenant pod breaks, checked before it goes down.

A VirtualCluster names a level in `spec.isolation.podSecurity`: `privileged` (anything goes),
`baseline` or `restricted`. Before the pod syncer creates a super pod it asks `violations`
which rules of that level the tenant pod breaks; a pod that breaks any is not created, and
`summary` is the line the tenant reads in the pod's condition and Event. The super namespaces
carry the same level for the super API server's own PodSecurity admission, so the rules here
follow that admission's latest version: a pod refused here would be refused there, but the
tenant learns why in its own cluster instead of from a create that fails out of its sight.
Translation (`translate.super_pod`) only adds what every level allows (Secret volumes, env).

Restricted is every baseline rule plus its own. The admission instead swaps a few baseline
checks (capabilities, seccomp, hostPath) for restricted ones that skip Windows pods; the two
verdicts differ only for Windows pods that set Linux-only fields, which the API server
refuses as invalid before any admission runs. A pod in a user namespace (`hostUsers: false`)
may run as root under restricted and may unmask /proc under baseline, as the admission allows.

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


def violations(level: str, tenant_pod: Mapping[str, Any]) -> list[Violation]:
    """The rules of `level` that `tenant_pod` breaks; empty when it complies."""
    if level not in LEVELS:
        raise ValueError(f"unknown pod security level {level!r}; one of {', '.join(LEVELS)}")
    if level == "privileged":
        return []
    checks = BASELINE_CHECKS + (RESTRICTED_CHECKS if level == "restricted" else ())
    pod = _Pod.of(tenant_pod)
    return [violation for check in checks for violation in check(pod)]


def summary(found: Sequence[Violation]) -> str:
    """One line for a pod condition or Event; empty when nothing was found."""
    if not found:
        return ""
    items = [f"{item.where}: {item.refused} ({item.fix})" for item in found[:SUMMARY_ITEMS]]
    if len(found) > SUMMARY_ITEMS:
        items.append(f"and {len(found) - SUMMARY_ITEMS} more")
    needed = min((item.allowed_at for item in found), key=LEVELS.index)
    return (
        f"refused by pod security: {'; '.join(items)}; "
        f"or the VirtualCluster's spec.isolation.podSecurity would have to be {needed}"
    )


@dataclasses.dataclass(frozen=True)
class _Pod:
    """The parts of a pod the rules read, with missing and null fields as empty ones."""

    annotations: Mapping[str, Any]
    spec: Mapping[str, Any]
    context: Mapping[str, Any]  # the pod-level securityContext
    containers: tuple[tuple[str, Mapping[str, Any]], ...]  # (where, container), all kinds

    @classmethod
    def of(cls, tenant_pod: Mapping[str, Any]) -> _Pod:
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


Check = Callable[[_Pod], Iterator[Violation]]


def _baseline(rule: str, where: str, refused: str, fix: str) -> Violation:
    return Violation(rule, where, refused, fix, allowed_at="privileged")


def _restricted(rule: str, where: str, refused: str, fix: str) -> Violation:
    return Violation(rule, where, refused, fix, allowed_at="baseline")


def _names(values: Sequence[Any]) -> str:
    return ", ".join(str(value) for value in values)


# Baseline: what lets a pod reach past its own sandbox.


def _windows_host_process(pod: _Pod) -> Iterator[Violation]:
    for where, context in pod.contexts():
        if (context.get("windowsOptions") or {}).get("hostProcess") is True:
            yield _baseline(
                "windowsHostProcess",
                where,
                "securityContext.windowsOptions.hostProcess=true",
                "remove it: HostProcess containers run as the Windows host",
            )


def _host_namespaces(pod: _Pod) -> Iterator[Violation]:
    shared = [key for key in ("hostNetwork", "hostPID", "hostIPC") if pod.spec.get(key) is True]
    if shared:
        yield _baseline(
            "hostNamespaces",
            "pod",
            ", ".join(f"{key}=true" for key in shared),
            f"remove {' and '.join(shared)} or set {'them' if len(shared) > 1 else 'it'} false",
        )


def _privileged(pod: _Pod) -> Iterator[Violation]:
    for where, context in pod.container_contexts():
        if context.get("privileged") is True:
            yield _baseline(
                "privileged",
                where,
                "securityContext.privileged=true",
                "remove securityContext.privileged or set it false",
            )


def _capabilities(pod: _Pod) -> Iterator[Violation]:
    for where, context in pod.container_contexts():
        added = (context.get("capabilities") or {}).get("add") or []
        extra = [name for name in added if name not in BASELINE_CAPABILITIES]
        if extra:
            yield _baseline(
                "capabilities",
                where,
                f"securityContext.capabilities.add has {_names(extra)}",
                "remove them: only the runtime's default capabilities may be added",
            )


def _host_paths(pod: _Pod) -> Iterator[Violation]:
    for volume in pod.spec.get("volumes") or []:
        if volume.get("hostPath") is not None:
            yield _baseline(
                "hostPath",
                f"volume {volume.get('name')}",
                "hostPath volume",
                "use an emptyDir, configMap, secret or persistentVolumeClaim volume instead",
            )


def _host_ports(pod: _Pod) -> Iterator[Violation]:
    for where, container in pod.containers:
        ports = [port["hostPort"] for port in container.get("ports") or [] if port.get("hostPort")]
        if ports:
            yield _baseline(
                "hostPorts",
                where,
                f"ports[].hostPort {_names(ports)}",
                "remove hostPort and reach the container through a Service",
            )


def _probe_hosts(pod: _Pod) -> Iterator[Violation]:
    for where, container in pod.containers:
        handlers = [(name, container.get(name) or {}) for name in PROBES]
        lifecycle = container.get("lifecycle") or {}
        handlers += [
            (f"lifecycle.{name}", lifecycle.get(name) or {}) for name in LIFECYCLE_HANDLERS
        ]
        hosts = [
            f"{name}.{action}.host={host}"
            for name, handler in handlers
            for action in ("httpGet", "tcpSocket")
            if (host := (handler.get(action) or {}).get("host"))
        ]
        if hosts:
            yield _baseline(
                "probeHost",
                where,
                _names(hosts),
                "remove the host field so that the kubelet checks the pod's own address",
            )


def _app_armor(pod: _Pod) -> Iterator[Violation]:
    for where, context in pod.contexts():
        profile = context.get("appArmorProfile")
        if profile is not None and profile.get("type") not in PROFILE_TYPES:
            yield _baseline(
                "appArmor",
                where,
                f"securityContext.appArmorProfile.type={profile.get('type')}",
                "set it to RuntimeDefault or Localhost, or remove appArmorProfile",
            )
    for key, value in sorted(pod.annotations.items()):
        if key.startswith(APPARMOR_ANNOTATION) and not _allowed_app_armor_annotation(value):
            yield _baseline(
                "appArmor",
                "pod",
                f"annotation {key}={value}",
                "set it to runtime/default or localhost/<profile>, or remove it",
            )


def _allowed_app_armor_annotation(value: Any) -> bool:
    return value in ("", None, "runtime/default") or str(value).startswith("localhost/")


def _se_linux(pod: _Pod) -> Iterator[Violation]:
    for where, context in pod.contexts():
        options = context.get("seLinuxOptions")
        if options is None:
            continue
        refused = []
        if (options.get("type") or "") not in SELINUX_TYPES:
            refused.append(f"seLinuxOptions.type={options.get('type')}")
        refused += [f"seLinuxOptions.{key}" for key in ("user", "role") if options.get(key)]
        if refused:
            yield _baseline(
                "seLinux",
                where,
                f"securityContext.{', '.join(refused)}",
                "leave user and role unset and the type unset or one of "
                + _names(sorted(SELINUX_TYPES - {""})),
            )


def _proc_mount(pod: _Pod) -> Iterator[Violation]:
    # Baseline lets a pod in a user namespace of its own unmask /proc; restricted never does.
    if not pod.user_namespaced:
        yield from _unmasked_proc(pod, _baseline)


def _unmasked_proc(pod: _Pod, level: Callable[..., Violation]) -> Iterator[Violation]:
    for where, context in pod.container_contexts():
        mount = context.get("procMount")
        if mount is not None and mount != "Default":
            yield level(
                "procMount",
                where,
                f"securityContext.procMount={mount}",
                "remove securityContext.procMount or set it to Default",
            )


def _seccomp(pod: _Pod) -> Iterator[Violation]:
    for where, context in pod.contexts():
        profile = context.get("seccompProfile")
        if profile is not None and profile.get("type") not in PROFILE_TYPES:
            yield _baseline(
                "seccomp",
                where,
                f"securityContext.seccompProfile.type={profile.get('type')}",
                "set it to RuntimeDefault or Localhost",
            )


def _sysctls(pod: _Pod) -> Iterator[Violation]:
    unsafe = [
        item.get("name")
        for item in pod.context.get("sysctls") or []
        if item.get("name") not in SAFE_SYSCTLS
    ]
    if unsafe:
        yield _baseline(
            "sysctls",
            "pod",
            f"securityContext.sysctls {_names(unsafe)}",
            "remove them: only namespaced sysctls that cannot affect other pods are allowed",
        )


BASELINE_CHECKS: tuple[Check, ...] = (
    _host_namespaces,
    _windows_host_process,
    _sysctls,
    _host_paths,
    _privileged,
    _capabilities,
    _host_ports,
    _probe_hosts,
    _proc_mount,
    _se_linux,
    _app_armor,
    _seccomp,
)


# Restricted: hardening on top of baseline.


def _volume_types(pod: _Pod) -> Iterator[Violation]:
    for volume in pod.spec.get("volumes") or []:
        sources = [key for key, value in volume.items() if key != "name" and value is not None]
        if "hostPath" in sources or any(source in RESTRICTED_VOLUMES for source in sources):
            continue  # a hostPath volume is already refused by baseline
        yield _restricted(
            "volumeTypes",
            f"volume {volume.get('name')}",
            f"{_names(sources) or 'unknown'} volume",
            f"use one of {_names(RESTRICTED_VOLUMES)} (a persistentVolumeClaim can bind "
            "to any storage)",
        )


def _privilege_escalation(pod: _Pod) -> Iterator[Violation]:
    if pod.windows:
        return
    for where, context in pod.container_contexts():
        if context.get("allowPrivilegeEscalation") is not False:
            yield _restricted(
                "privilegeEscalation",
                where,
                "securityContext.allowPrivilegeEscalation is not false",
                "set securityContext.allowPrivilegeEscalation=false",
            )


def _run_as_non_root(pod: _Pod) -> Iterator[Violation]:
    if pod.user_namespaced:
        return
    pod_setting = pod.context.get("runAsNonRoot")
    for where, context in pod.contexts():
        setting = context.get("runAsNonRoot")
        if setting is False:
            yield _restricted(
                "runAsNonRoot",
                where,
                "securityContext.runAsNonRoot=false",
                "set securityContext.runAsNonRoot=true",
            )
        elif setting is None and where != "pod" and pod_setting is not True:
            yield _restricted(
                "runAsNonRoot",
                where,
                "securityContext.runAsNonRoot is not set",
                "set securityContext.runAsNonRoot=true here or in the pod's securityContext",
            )


def _run_as_user(pod: _Pod) -> Iterator[Violation]:
    if pod.user_namespaced:
        return
    for where, context in pod.contexts():
        if context.get("runAsUser") == 0:
            yield _restricted(
                "runAsUser",
                where,
                "securityContext.runAsUser=0",
                "run as a non-zero user id, or remove runAsUser and let the image choose",
            )


def _seccomp_required(pod: _Pod) -> Iterator[Violation]:
    # A valid pod-level profile covers every container that sets none of its own.
    profile = pod.context.get("seccompProfile")
    if pod.windows or (profile is not None and profile.get("type") in PROFILE_TYPES):
        return
    for where, context in pod.container_contexts():
        if context.get("seccompProfile") is None:
            yield _restricted(
                "seccomp",
                where,
                "securityContext.seccompProfile is not set",
                "set securityContext.seccompProfile.type=RuntimeDefault here or in the pod's "
                "securityContext",
            )


def _restricted_capabilities(pod: _Pod) -> Iterator[Violation]:
    if pod.windows:
        return
    for where, context in pod.container_contexts():
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield _restricted(
                "restrictedCapabilities",
                where,
                "securityContext.capabilities.drop does not have ALL",
                'set securityContext.capabilities.drop=["ALL"]',
            )
        # Capabilities past the runtime's defaults are already refused by baseline.
        extra = [
            name
            for name in capabilities.get("add") or []
            if name in BASELINE_CAPABILITIES - RESTRICTED_CAPABILITIES
        ]
        if extra:
            yield _restricted(
                "restrictedCapabilities",
                where,
                f"securityContext.capabilities.add has {_names(extra)}",
                "remove them: only NET_BIND_SERVICE may be added",
            )


def _proc_mount_in_user_namespace(pod: _Pod) -> Iterator[Violation]:
    if pod.user_namespaced:
        yield from _unmasked_proc(pod, _restricted)


RESTRICTED_CHECKS: tuple[Check, ...] = (
    _volume_types,
    _run_as_non_root,
    _run_as_user,
    _seccomp_required,
    _privilege_escalation,
    _restricted_capabilities,
    _proc_mount_in_user_namespace,
)
