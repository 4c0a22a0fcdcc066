"""All tenant ↔ super-cluster name and ownership mapping, in one place.

Tenant namespace `X` of a VirtualCluster lives in super namespace
`<vc namespace>-<vc name>-X-<hash of vc uid and X>` (see `naming.tenant_namespace`; cut with
a hash past 63 characters: two tenant namespaces never share one). Object names stay the same
inside the namespace. Every super object carries the VirtualCluster's labels and, in
annotations, the tenant object's namespace, name and uid: that record, never a parse of the
super name, is how atoll finds the tenant object back and decides whether it owns the super
object. A tenant cannot forge it: labels and annotations under `atoll.dev/` that a tenant
sets are dropped on the way down.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from atoll.core import naming

TENANT_NAMESPACE = f"{naming.LABEL_PREFIX}/tenant-namespace"
TENANT_NAME = f"{naming.LABEL_PREFIX}/tenant-name"
TENANT_UID = f"{naming.LABEL_PREFIX}/tenant-uid"
ROLE = f"{naming.LABEL_PREFIX}/role"  # "tenant" on super namespaces that mirror a tenant's

KubeObject = dict[str, Any]


@dataclasses.dataclass(frozen=True)
class Tenant:
    """One VirtualCluster as the syncer sees it; built from the object, read-only."""

    vc_name: str
    vc_namespace: str
    vc_uid: str
    server: str  # the tenant API server's URL
    spec: dict[str, Any] = dataclasses.field(default_factory=dict, compare=False)
    pool_label: str = "apps.openyurt.io/nodepool"
    # The tenant's own slice of service addresses, which the super-cluster serves too: super
    # Services take the tenant's address. None: the super-cluster picks, the tenant follows.
    service_range: str | None = None

    @property
    def root(self) -> str:
        return naming.cluster_root(self.vc_namespace, self.vc_name, self.vc_uid)

    @property
    def key(self) -> str:
        return f"{self.vc_namespace}/{self.vc_name}"

    @property
    def labels(self) -> dict[str, str]:
        return naming.owner_labels(self.vc_namespace, self.vc_name, self.vc_uid)


def super_namespace(tenant: Tenant, tenant_namespace: str) -> str:
    """Where tenant namespace `tenant_namespace` lives on the super-cluster."""
    return naming.tenant_namespace(
        tenant.vc_namespace, tenant.vc_name, tenant.vc_uid, tenant_namespace
    )


def atoll_key(key: str) -> bool:
    """Whether a label or annotation key is in atoll's own domain (or below it)."""
    return key.split("/", 1)[0].endswith(naming.LABEL_PREFIX)


def _own_keys(mapping: dict[str, str] | None) -> dict[str, str]:
    # A tenant may not write atoll's own keys: ownership must come from the syncer alone.
    return {key: value for key, value in (mapping or {}).items() if not atoll_key(key)}


def super_metadata(tenant: Tenant, tenant_obj: KubeObject) -> KubeObject:
    """Metadata of the super object for `tenant_obj`: mapped namespace, ownership record."""
    metadata = tenant_obj["metadata"]
    result: KubeObject = {
        "name": metadata["name"],
        "labels": {**_own_keys(metadata.get("labels")), **tenant.labels},
        "annotations": {
            **_own_keys(metadata.get("annotations")),
            TENANT_NAME: metadata["name"],
            TENANT_UID: metadata["uid"],
        },
    }
    if namespace := metadata.get("namespace"):
        result["namespace"] = super_namespace(tenant, namespace)
        result["annotations"][TENANT_NAMESPACE] = namespace
    return result


def owned_by(super_obj: KubeObject, tenant: Tenant) -> bool:
    """Whether `super_obj` was made by the syncer for this VirtualCluster."""
    labels = super_obj.get("metadata", {}).get("labels") or {}
    return labels.get(naming.VC_UID) == tenant.vc_uid


def tenant_uid_of(super_obj: KubeObject) -> str | None:
    return (super_obj.get("metadata", {}).get("annotations") or {}).get(TENANT_UID)


def tenant_key_of(super_obj: KubeObject) -> str | None:
    """`namespace/name` (or `name`) of the tenant object `super_obj` stands for."""
    annotations = super_obj.get("metadata", {}).get("annotations") or {}
    name = annotations.get(TENANT_NAME)
    if name is None:
        return None
    namespace = annotations.get(TENANT_NAMESPACE)
    return f"{namespace}/{name}" if namespace else name


def vc_uid_of(super_obj: KubeObject) -> str | None:
    return (super_obj.get("metadata", {}).get("labels") or {}).get(naming.VC_UID)
