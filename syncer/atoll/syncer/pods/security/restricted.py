"""Restricted rules: the hardening a pod needs on top of every baseline rule.

Each rule reads a `model.PodView` and yields a `model.Violation` per offending field, naming
`baseline` as the level that would allow it.
"""

from __future__ import annotations

from collections.abc import Iterator

from atoll.syncer.pods.security import baseline, model


def _volume_types(pod: model.PodView) -> Iterator[model.Violation]:
    for volume in pod.spec.get("volumes") or []:
        sources = [key for key, value in volume.items() if key != "name" and value is not None]
        if "hostPath" in sources or any(source in model.RESTRICTED_VOLUMES for source in sources):
            continue  # a hostPath volume is already refused by baseline
        yield model.restricted_rule(
            "volumeTypes",
            f"volume {volume.get('name')}",
            f"{model.listed(sources) or 'unknown'} volume",
            f"use one of {model.listed(model.RESTRICTED_VOLUMES)} (a persistentVolumeClaim "
            "can bind to any storage)",
        )


def _privilege_escalation(pod: model.PodView) -> Iterator[model.Violation]:
    if pod.windows:
        return
    for where, context in pod.container_contexts():
        if context.get("allowPrivilegeEscalation") is not False:
            yield model.restricted_rule(
                "privilegeEscalation",
                where,
                "securityContext.allowPrivilegeEscalation is not false",
                "set securityContext.allowPrivilegeEscalation=false",
            )


def _run_as_non_root(pod: model.PodView) -> Iterator[model.Violation]:
    if pod.user_namespaced:
        return
    pod_setting = pod.context.get("runAsNonRoot")
    for where, context in pod.contexts():
        setting = context.get("runAsNonRoot")
        if setting is False:
            yield model.restricted_rule(
                "runAsNonRoot",
                where,
                "securityContext.runAsNonRoot=false",
                "set securityContext.runAsNonRoot=true",
            )
        elif setting is None and where != "pod" and pod_setting is not True:
            yield model.restricted_rule(
                "runAsNonRoot",
                where,
                "securityContext.runAsNonRoot is not set",
                "set securityContext.runAsNonRoot=true here or in the pod's securityContext",
            )


def _run_as_user(pod: model.PodView) -> Iterator[model.Violation]:
    if pod.user_namespaced:
        return
    for where, context in pod.contexts():
        if context.get("runAsUser") == 0:
            yield model.restricted_rule(
                "runAsUser",
                where,
                "securityContext.runAsUser=0",
                "run as a non-zero user id, or remove runAsUser and let the image choose",
            )


def _seccomp_required(pod: model.PodView) -> Iterator[model.Violation]:
    # A valid pod-level profile covers every container that sets none of its own.
    profile = pod.context.get("seccompProfile")
    if pod.windows or (profile is not None and profile.get("type") in model.PROFILE_TYPES):
        return
    for where, context in pod.container_contexts():
        if context.get("seccompProfile") is None:
            yield model.restricted_rule(
                "seccomp",
                where,
                "securityContext.seccompProfile is not set",
                "set securityContext.seccompProfile.type=RuntimeDefault here or in the pod's "
                "securityContext",
            )


def _restricted_capabilities(pod: model.PodView) -> Iterator[model.Violation]:
    if pod.windows:
        return
    for where, context in pod.container_contexts():
        capabilities = context.get("capabilities") or {}
        if "ALL" not in (capabilities.get("drop") or []):
            yield model.restricted_rule(
                "restrictedCapabilities",
                where,
                "securityContext.capabilities.drop does not have ALL",
                'set securityContext.capabilities.drop=["ALL"]',
            )
        # Capabilities past the runtime's defaults are already refused by baseline.
        extra = [
            name
            for name in capabilities.get("add") or []
            if name in model.BASELINE_CAPABILITIES - model.RESTRICTED_CAPABILITIES
        ]
        if extra:
            yield model.restricted_rule(
                "restrictedCapabilities",
                where,
                f"securityContext.capabilities.add has {model.listed(extra)}",
                "remove them: only NET_BIND_SERVICE may be added",
            )


def _proc_mount_in_user_namespace(pod: model.PodView) -> Iterator[model.Violation]:
    if pod.user_namespaced:
        yield from baseline.unmasked_proc(pod, model.restricted_rule)


CHECKS: tuple[model.Check, ...] = (
    _volume_types,
    _run_as_non_root,
    _run_as_user,
    _seccomp_required,
    _privilege_escalation,
    _restricted_capabilities,
    _proc_mount_in_user_namespace,
)
