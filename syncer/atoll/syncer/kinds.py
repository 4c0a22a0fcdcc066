"""What the syncer copies down, kind by kind, for every kind that is a plain copy.

A `Kind` names the tenant and super resources, which fields travel, which tenant objects
are left alone (each super namespace gets its own `default` ServiceAccount and root CA from
the super-cluster; service-account token Secrets belong to the tenant's API server), and
which fields the super-cluster assigns itself and must not be overwritten. Pods are not
here: they are translated (see `pods/`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from atoll.core.kube import resources
from atoll.syncer import mapping

KubeObject = dict[str, Any]

INGRESSES = resources.Resource(
    "networking.k8s.io", "v1", "ingresses", namespaced=True, kind="Ingress"
)
NETWORK_POLICIES = resources.Resource(
    "networking.k8s.io", "v1", "networkpolicies", namespaced=True, kind="NetworkPolicy"
)
PDBS = resources.Resource(
    "policy", "v1", "poddisruptionbudgets", namespaced=True, kind="PodDisruptionBudget"
)


@dataclasses.dataclass(frozen=True)
class Kind:
    """How one kind travels down."""

    resource: resources.Resource
    fields: tuple[str, ...]  # top-level fields copied as they are
    spec_drop: tuple[str, ...] = ()  # spec fields the super-cluster assigns
    wants: Callable[[KubeObject], bool] = lambda _obj: True
    opt_in: str | None = None  # spec.sync flag that turns this kind on
    selectorless_only: bool = False  # only for Services without a selector

    @property
    def name(self) -> str:
        return self.resource.kind


def _not_named(*names: str) -> Callable[[KubeObject], bool]:
    return lambda obj: obj["metadata"]["name"] not in names


def _not_token_secret(obj: KubeObject) -> bool:
    return obj.get("type") != "kubernetes.io/service-account-token"


NAMESPACED: tuple[Kind, ...] = (
    Kind(
        resources.CONFIGMAPS,
        ("data", "binaryData", "immutable"),
        wants=_not_named("kube-root-ca.crt"),
    ),
    Kind(resources.SECRETS, ("data", "type", "immutable"), wants=_not_token_secret),
    Kind(resources.SERVICEACCOUNTS, ("automountServiceAccountToken",), wants=_not_named("default")),
    Kind(resources.PVCS, ("spec",), spec_drop=("volumeName",)),
    Kind(
        resources.SERVICES,
        ("spec",),
        spec_drop=(
            "clusterIP",
            "clusterIPs",
            "healthCheckNodePort",
            "ipFamilies",
            "ipFamilyPolicy",
        ),
    ),
    # Endpoints of Services with a selector are made by the super-cluster's own controller.
    Kind(resources.ENDPOINTS, ("subsets",), selectorless_only=True),
    Kind(INGRESSES, ("spec",), opt_in="ingresses"),
    Kind(NETWORK_POLICIES, ("spec",), opt_in="networkPolicies"),
    Kind(PDBS, ("spec",), opt_in="podDisruptionBudgets"),
)
BY_NAME = {kind.name: kind for kind in NAMESPACED}


def enabled(kind: Kind, tenant: mapping.Tenant) -> bool:
    return kind.opt_in is None or bool((tenant.spec.get("sync") or {}).get(kind.opt_in))


def desired(kind: Kind, tenant: mapping.Tenant, tenant_obj: KubeObject) -> KubeObject:
    """The super object that stands for `tenant_obj`."""
    result: KubeObject = {
        "apiVersion": kind.resource.api_version,
        "kind": kind.name,
        "metadata": mapping.super_metadata(tenant, tenant_obj),
    }
    for field in kind.fields:
        if field in tenant_obj:
            result[field] = tenant_obj[field]
    if "spec" in result:
        spec = dict(result["spec"])
        for field in kind.spec_drop:
            spec.pop(field, None)
        if kind.resource is resources.SERVICES:
            spec["ports"] = [_without_node_port(port) for port in spec.get("ports") or []]
        result["spec"] = spec
    return result


def _without_node_port(port: dict[str, Any]) -> dict[str, Any]:
    # Each tenant allocates node ports from the same range: the super-cluster picks its own.
    return {key: value for key, value in port.items() if key != "nodePort"}


def patch(kind: Kind, want: KubeObject, have: KubeObject) -> KubeObject | None:
    """A merge patch bringing `have` to `want`, or None when they already agree."""
    changes: KubeObject = {}
    metadata: KubeObject = {}
    for field in ("labels", "annotations"):
        wanted = want["metadata"].get(field) or {}
        current = have["metadata"].get(field) or {}
        if wanted != current:
            # Keys to drop are set to None in a merge patch.
            metadata[field] = {**{key: None for key in current if key not in wanted}, **wanted}
    if metadata:
        changes["metadata"] = metadata

    for field in kind.fields:
        wanted = want.get(field)
        current = have.get(field)
        if field == "spec" and isinstance(current, dict) and isinstance(wanted, dict):
            # Fields the super-cluster filled in itself (clusterIP, defaults) are not drift.
            if any(current.get(key) != value for key, value in wanted.items()):
                changes["spec"] = wanted
        elif wanted != current and not (wanted is None and field == "immutable"):
            changes[field] = wanted
    return changes or None


def super_namespace_object(tenant: mapping.Tenant, tenant_namespace: KubeObject) -> KubeObject:
    """The super namespace for a tenant namespace, marked as the tenant's."""
    metadata = mapping.super_metadata(tenant, tenant_namespace)
    metadata["name"] = mapping.super_namespace(tenant, tenant_namespace["metadata"]["name"])
    metadata["labels"][mapping.ROLE] = "tenant"
    # The API server sets this label to the namespace's own name; copying the tenant's
    # would be undone at once and look like drift forever.
    metadata["labels"].pop("kubernetes.io/metadata.name", None)
    metadata["annotations"][mapping.TENANT_NAMESPACE] = tenant_namespace["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}
