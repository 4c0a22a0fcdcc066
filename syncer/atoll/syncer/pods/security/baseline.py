"""Baseline rules: what would let a pod reach past its own sandbox.

Each rule reads a `model.PodView` and yields a `model.Violation` per offending field;
`CHECKS` lists them in the order the super API server's PodSecurity admission reports them.
`unmasked_proc` is shared with the restricted rules, which refuse an unmasked /proc even in a
user namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from atoll.syncer.pods.security import model


def _windows_host_process(pod: model.PodView) -> Iterator[model.Violation]:
    for where, context in pod.contexts():
        if (context.get("windowsOptions") or {}).get("hostProcess") is True:
            yield model.baseline_rule(
                "windowsHostProcess",
                where,
                "securityContext.windowsOptions.hostProcess=true",
                "remove it: HostProcess containers run as the Windows host",
            )


def _host_namespaces(pod: model.PodView) -> Iterator[model.Violation]:
    shared = [key for key in ("hostNetwork", "hostPID", "hostIPC") if pod.spec.get(key) is True]
    if shared:
        yield model.baseline_rule(
            "hostNamespaces",
            "pod",
            ", ".join(f"{key}=true" for key in shared),
            f"remove {' and '.join(shared)} or set {'them' if len(shared) > 1 else 'it'} false",
        )


def _privileged(pod: model.PodView) -> Iterator[model.Violation]:
    for where, context in pod.container_contexts():
        if context.get("privileged") is True:
            yield model.baseline_rule(
                "privileged",
                where,
                "securityContext.privileged=true",
                "remove securityContext.privileged or set it false",
            )


def _capabilities(pod: model.PodView) -> Iterator[model.Violation]:
    for where, context in pod.container_contexts():
        added = (context.get("capabilities") or {}).get("add") or []
        extra = [name for name in added if name not in model.BASELINE_CAPABILITIES]
        if extra:
            yield model.baseline_rule(
                "capabilities",
                where,
                f"securityContext.capabilities.add has {model.listed(extra)}",
                "remove them: only the runtime's default capabilities may be added",
            )


def _host_paths(pod: model.PodView) -> Iterator[model.Violation]:
    for volume in pod.spec.get("volumes") or []:
        if volume.get("hostPath") is not None:
            yield model.baseline_rule(
                "hostPath",
                f"volume {volume.get('name')}",
                "hostPath volume",
                "use an emptyDir, configMap, secret or persistentVolumeClaim volume instead",
            )


def _host_ports(pod: model.PodView) -> Iterator[model.Violation]:
    for where, container in pod.containers:
        ports = [port["hostPort"] for port in container.get("ports") or [] if port.get("hostPort")]
        if ports:
            yield model.baseline_rule(
                "hostPorts",
                where,
                f"ports[].hostPort {model.listed(ports)}",
                "remove hostPort and reach the container through a Service",
            )


def _probe_hosts(pod: model.PodView) -> Iterator[model.Violation]:
    for where, container in pod.containers:
        handlers = [(name, container.get(name) or {}) for name in model.PROBES]
        lifecycle = container.get("lifecycle") or {}
        handlers += [
            (f"lifecycle.{name}", lifecycle.get(name) or {}) for name in model.LIFECYCLE_HANDLERS
        ]
        hosts = [
            f"{name}.{action}.host={host}"
            for name, handler in handlers
            for action in ("httpGet", "tcpSocket")
            if (host := (handler.get(action) or {}).get("host"))
        ]
        if hosts:
            yield model.baseline_rule(
                "probeHost",
                where,
                model.listed(hosts),
                "remove the host field so that the kubelet checks the pod's own address",
            )


def _app_armor(pod: model.PodView) -> Iterator[model.Violation]:
    for where, context in pod.contexts():
        profile = context.get("appArmorProfile")
        if profile is not None and profile.get("type") not in model.PROFILE_TYPES:
            yield model.baseline_rule(
                "appArmor",
                where,
                f"securityContext.appArmorProfile.type={profile.get('type')}",
                "set it to RuntimeDefault or Localhost, or remove appArmorProfile",
            )
    for key, value in sorted(pod.annotations.items()):
        if key.startswith(model.APPARMOR_ANNOTATION) and not _allowed_app_armor_annotation(value):
            yield model.baseline_rule(
                "appArmor",
                "pod",
                f"annotation {key}={value}",
                "set it to runtime/default or localhost/<profile>, or remove it",
            )


def _allowed_app_armor_annotation(value: Any) -> bool:
    return value in ("", None, "runtime/default") or str(value).startswith("localhost/")


def _se_linux(pod: model.PodView) -> Iterator[model.Violation]:
    for where, context in pod.contexts():
        options = context.get("seLinuxOptions")
        if options is None:
            continue
        refused = []
        if (options.get("type") or "") not in model.SELINUX_TYPES:
            refused.append(f"seLinuxOptions.type={options.get('type')}")
        refused += [f"seLinuxOptions.{key}" for key in ("user", "role") if options.get(key)]
        if refused:
            yield model.baseline_rule(
                "seLinux",
                where,
                f"securityContext.{', '.join(refused)}",
                "leave user and role unset and the type unset or one of "
                + model.listed(sorted(model.SELINUX_TYPES - {""})),
            )


def _proc_mount(pod: model.PodView) -> Iterator[model.Violation]:
    # Baseline lets a pod in a user namespace of its own unmask /proc; restricted never does.
    if not pod.user_namespaced:
        yield from unmasked_proc(pod, model.baseline_rule)


def unmasked_proc(
    pod: model.PodView, level: Callable[..., model.Violation]
) -> Iterator[model.Violation]:
    for where, context in pod.container_contexts():
        mount = context.get("procMount")
        if mount is not None and mount != "Default":
            yield level(
                "procMount",
                where,
                f"securityContext.procMount={mount}",
                "remove securityContext.procMount or set it to Default",
            )


def _seccomp(pod: model.PodView) -> Iterator[model.Violation]:
    for where, context in pod.contexts():
        profile = context.get("seccompProfile")
        if profile is not None and profile.get("type") not in model.PROFILE_TYPES:
            yield model.baseline_rule(
                "seccomp",
                where,
                f"securityContext.seccompProfile.type={profile.get('type')}",
                "set it to RuntimeDefault or Localhost",
            )


def _sysctls(pod: model.PodView) -> Iterator[model.Violation]:
    unsafe = [
        item.get("name")
        for item in pod.context.get("sysctls") or []
        if item.get("name") not in model.SAFE_SYSCTLS
    ]
    if unsafe:
        yield model.baseline_rule(
            "sysctls",
            "pod",
            f"securityContext.sysctls {model.listed(unsafe)}",
            "remove them: only namespaced sysctls that cannot affect other pods are allowed",
        )


CHECKS: tuple[model.Check, ...] = (
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
