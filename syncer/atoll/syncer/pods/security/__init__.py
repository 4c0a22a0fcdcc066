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

The rules live in `baseline` and `restricted`, over the vocabulary of `model`; everything
here reads raw pod JSON and never changes it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from atoll.syncer.pods.security import baseline, model, restricted
from atoll.syncer.pods.security.model import (
    APPARMOR_ANNOTATION,
    BASELINE_CAPABILITIES,
    LEVELS,
    LIFECYCLE_HANDLERS,
    PROBES,
    RESTRICTED_CAPABILITIES,
    SAFE_SYSCTLS,
    SELINUX_TYPES,
    SUMMARY_ITEMS,
    Violation,
)

__all__ = [
    "APPARMOR_ANNOTATION",
    "BASELINE_CAPABILITIES",
    "LEVELS",
    "LIFECYCLE_HANDLERS",
    "PROBES",
    "RESTRICTED_CAPABILITIES",
    "SAFE_SYSCTLS",
    "SELINUX_TYPES",
    "SUMMARY_ITEMS",
    "Violation",
    "summary",
    "violations",
]


def violations(level: str, tenant_pod: Mapping[str, Any]) -> list[model.Violation]:
    """The rules of `level` that `tenant_pod` breaks; empty when it complies."""
    if level not in model.LEVELS:
        raise ValueError(f"unknown pod security level {level!r}; one of {', '.join(model.LEVELS)}")
    if level == "privileged":
        return []
    checks = baseline.CHECKS + (restricted.CHECKS if level == "restricted" else ())
    pod = model.PodView.of(tenant_pod)
    return [violation for check in checks for violation in check(pod)]


def summary(found: Sequence[model.Violation]) -> str:
    """One line for a pod condition or Event; empty when nothing was found."""
    if not found:
        return ""
    items = [f"{item.where}: {item.refused} ({item.fix})" for item in found[: model.SUMMARY_ITEMS]]
    if len(found) > model.SUMMARY_ITEMS:
        items.append(f"and {len(found) - model.SUMMARY_ITEMS} more")
    needed = min((item.allowed_at for item in found), key=model.LEVELS.index)
    return (
        f"refused by pod security: {'; '.join(items)}; "
        f"or the VirtualCluster's spec.isolation.podSecurity would have to be {needed}"
    )
