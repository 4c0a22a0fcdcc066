"""What the syncer copies down, kind by kind, for every kind that is a plain copy.

A `Kind` names the tenant and super resources, which fields travel, which tenant objects
are left alone (each super namespace gets its own `default` ServiceAccount and root CA from
the super-cluster; service-account token Secrets belong to the tenant's API server;
EndpointSlices the tenant's own controllers made), and which fields and annotations the
super-cluster's controllers assign themselves and must not be overwritten. Pods are not
here: they are translated (see `pods/`); kinds that travel up are in `cluster_objects` and
`volumes`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from atoll.core.kube import resources
from atoll.syncer import isolation, mapping, service_addresses

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
SERVICE_NAME_LABEL = "kubernetes.io/service-name"  # the Service an EndpointSlice belongs to
SLICE_MANAGER_LABEL = "endpointslice.kubernetes.io/managed-by"
# Slices these make in the tenant are made again by the same controllers on the super-cluster
# (from the Service's selector, or mirrored from the Endpoints the syncer brings down).
TENANT_SLICE_MANAGERS = (
    "endpointslice-controller.k8s.io",
    "endpointslicemirroring-controller.k8s.io",
)
# Annotations the PersistentVolume binder writes on claims: each cluster's binder keeps its
# own, and removing the super binder's would make it bind the claim again, for ever.
BINDER_ANNOTATIONS = ("pv.kubernetes.io/", "volume.kubernetes.io/", "volume.beta.kubernetes.io/")


@dataclasses.dataclass(frozen=True)
class Kind:
    """How one kind travels down."""

    resource: resources.Resource
    fields: tuple[str, ...]  # top-level fields copied as they are
    spec_drop: tuple[str, ...] = ()  # spec fields the super-cluster assigns
    wants: Callable[[KubeObject], bool] = lambda _obj: True
    opt_in: str | None = None  # spec.sync flag that turns this kind on
    selectorless_only: bool = False  # only for Services without a selector
    # The Service an object belongs to (for `selectorless_only`): by default its own name.
    service_of: Callable[[KubeObject], str | None] = lambda obj: str(obj["metadata"]["name"])
    tenant_selector: str | None = None  # label selector of the tenant watch
    super_annotations: tuple[str, ...] = ()  # annotation prefixes the super side writes
    create_only: tuple[str, ...] = ()  # spec fields set at creation, immutable after it

    @property
    def name(self) -> str:
        return self.resource.kind


def _not_named(*names: str) -> Callable[[KubeObject], bool]:
    return lambda obj: obj["metadata"]["name"] not in names


def _not_token_secret(obj: KubeObject) -> bool:
    return obj.get("type") != "kubernetes.io/service-account-token"


def _slice_service(obj: KubeObject) -> str | None:
    return (obj["metadata"].get("labels") or {}).get(SERVICE_NAME_LABEL)


def _user_slice(obj: KubeObject) -> bool:
    labels = obj["metadata"].get("labels") or {}
    return labels.get(SLICE_MANAGER_LABEL) not in TENANT_SLICE_MANAGERS


# Slices a user wrote for a selector-less Service; the name label travels unchanged, as
# Service names do.
ENDPOINT_SLICE = Kind(
    resources.ENDPOINTSLICES,
    ("addressType", "endpoints", "ports"),
    wants=_user_slice,
    selectorless_only=True,
    service_of=_slice_service,
    tenant_selector=(
        f"{SERVICE_NAME_LABEL},{SLICE_MANAGER_LABEL} notin ({','.join(TENANT_SLICE_MANAGERS)})"
    ),
)
NAMESPACED: tuple[Kind, ...] = (
    Kind(
        resources.CONFIGMAPS,
        ("data", "binaryData", "immutable"),
        wants=_not_named("kube-root-ca.crt"),
    ),
    Kind(resources.SECRETS, ("data", "type", "immutable"), wants=_not_token_secret),
    Kind(resources.SERVICEACCOUNTS, ("automountServiceAccountToken",), wants=_not_named("default")),
    Kind(
        resources.PVCS,
        ("spec",),
        spec_drop=("volumeName",),
        super_annotations=BINDER_ANNOTATIONS,
    ),
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
        # The syncer's own records of an address refused and of a tenant Service being
        # created again (see `service_addresses`).
        super_annotations=(service_addresses.REPLACING, service_addresses.REFUSED),
        # The tenant's address where the super-cluster can take it (see `_addresses`).
        create_only=service_addresses.ADDRESSES,
    ),
    # Endpoints of Services with a selector are made by the super-cluster's own controller.
    Kind(resources.ENDPOINTS, ("subsets",), selectorless_only=True),
    ENDPOINT_SLICE,
    Kind(INGRESSES, ("spec",), opt_in="ingresses"),
    Kind(NETWORK_POLICIES, ("spec",), opt_in="networkPolicies"),
    Kind(PDBS, ("spec",), opt_in="podDisruptionBudgets"),
)
BY_NAME = {kind.name: kind for kind in NAMESPACED}


def enabled(kind: Kind, tenant: mapping.Tenant) -> bool:
    return kind.opt_in is None or bool((tenant.spec.get("sync") or {}).get(kind.opt_in))


def desired(kind: Kind, tenant: mapping.Tenant, tenant_obj: KubeObject) -> KubeObject:
    """The super object that stands for `tenant_obj`."""
    metadata = mapping.super_metadata(tenant, tenant_obj)
    metadata["annotations"] = {
        key: value
        for key, value in metadata["annotations"].items()
        if not key.startswith(kind.super_annotations)
    }
    result: KubeObject = {
        "apiVersion": kind.resource.api_version,
        "kind": kind.name,
        "metadata": metadata,
    }
    for field in kind.fields:
        if field in tenant_obj:
            result[field] = tenant_obj[field]
    if kind.resource is resources.ENDPOINTSLICES:
        result["endpoints"] = [
            _super_endpoint(tenant, item) for item in result.get("endpoints") or []
        ]
    if "spec" in result:
        spec = dict(result["spec"])
        for field in kind.spec_drop:
            spec.pop(field, None)
        if kind.resource is resources.SERVICES:
            spec["ports"] = [_without_node_port(port) for port in spec.get("ports") or []]
            spec.update(_addresses(tenant, tenant_obj.get("spec") or {}))
        result["spec"] = spec
    return result


def _addresses(tenant: mapping.Tenant, tenant_spec: KubeObject) -> KubeObject:
    """The cluster IPs a super Service takes from its tenant Service: "None" for a headless
    one; the tenant's own addresses when they come from its slice, which the super-cluster
    serves too; else none: the super-cluster picks, and `service_addresses` settles it."""
    addresses = tenant_spec.get("clusterIPs") or [
        address for address in [tenant_spec.get("clusterIP")] if address
    ]
    if addresses == ["None"]:
        return {"clusterIP": "None", "clusterIPs": ["None"]}
    if addresses and all(service_addresses.in_own_range(tenant, item) for item in addresses):
        return {"clusterIP": addresses[0], "clusterIPs": list(addresses)}
    return {}


def _super_endpoint(tenant: mapping.Tenant, endpoint: dict[str, Any]) -> dict[str, Any]:
    # A reference to a tenant pod names its super counterpart: same name, mapped namespace;
    # the tenant's uid and version mean nothing there.
    target = endpoint.get("targetRef")
    if not target:
        return endpoint
    mapped = {key: value for key, value in target.items() if key not in ("uid", "resourceVersion")}
    if target.get("namespace"):
        mapped["namespace"] = mapping.super_namespace(tenant, target["namespace"])
    return {**endpoint, "targetRef": mapped}


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
        if field == "annotations":
            # Super-side controllers' annotations are theirs: neither compared nor removed.
            current = {
                key: value
                for key, value in current.items()
                if not key.startswith(kind.super_annotations)
            }
        if wanted != current:
            # Keys to drop are set to None in a merge patch.
            metadata[field] = {**{key: None for key in current if key not in wanted}, **wanted}
    if metadata:
        changes["metadata"] = metadata

    for field in kind.fields:
        wanted = want.get(field)
        current = have.get(field)
        if field == "spec" and isinstance(current, dict) and isinstance(wanted, dict):
            # Fields the super-cluster filled in itself (clusterIP, defaults) are not drift,
            # and those fixed at creation cannot be changed by a patch.
            wanted = {key: value for key, value in wanted.items() if key not in kind.create_only}
            if any(current.get(key) != value for key, value in wanted.items()):
                changes["spec"] = wanted
        elif wanted != current and not (wanted is None and field == "immutable"):
            changes[field] = wanted
    return changes or None


def super_namespace_object(tenant: mapping.Tenant, tenant_namespace: KubeObject) -> KubeObject:
    """The super namespace for a tenant namespace, marked as the tenant's."""
    metadata = mapping.super_metadata(tenant, tenant_namespace)
    metadata["name"] = mapping.super_namespace(tenant, tenant_namespace["metadata"]["name"])
    # Labels in Kubernetes' own domains steer the super-cluster (pod security levels, the
    # namespace's name as policies see it): a tenant's never travel; the level is the VC's.
    metadata["labels"] = {
        key: value
        for key, value in metadata["labels"].items()
        if not _kubernetes_domain(key.split("/", 1)[0] if "/" in key else "")
    }
    metadata["labels"].update(isolation.namespace_labels(isolation.of(tenant.spec)))
    metadata["labels"][mapping.ROLE] = "tenant"
    # What the API server sets on every namespace: wanting it too keeps it from looking like
    # drift.
    metadata["labels"]["kubernetes.io/metadata.name"] = metadata["name"]
    metadata["annotations"][mapping.TENANT_NAMESPACE] = tenant_namespace["metadata"]["name"]
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": metadata}


def _kubernetes_domain(prefix: str) -> bool:
    return prefix in ("kubernetes.io", "k8s.io") or prefix.endswith((".kubernetes.io", ".k8s.io"))
