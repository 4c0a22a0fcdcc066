"""Where each kind of Kubernetes object lives in the REST API.

A `Resource` names a kind's group, version and plural and builds the URL paths of its
collection, its objects and their subresources. The kinds atoll touches are listed here once;
custom resources declare their own `Resource` beside their definition.
"""

from __future__ import annotations

import dataclasses
from urllib.parse import quote


@dataclasses.dataclass(frozen=True)
class Resource:
    """One REST resource, e.g. `Resource("apps", "v1", "deployments", namespaced=True)`."""

    group: str
    version: str
    plural: str
    namespaced: bool
    kind: str = ""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, namespace: str | None = None, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The URL path of the collection (no name) or of one object (and a subresource)."""
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [prefix]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{quote(namespace, safe='')}")
        parts.append(self.plural)
        if name is not None:
            parts.append(quote(name, safe=""))
            if subresource:
                parts.append(subresource)
        return "/".join(parts)


NAMESPACES = Resource("", "v1", "namespaces", namespaced=False, kind="Namespace")
NODES = Resource("", "v1", "nodes", namespaced=False, kind="Node")
PODS = Resource("", "v1", "pods", namespaced=True, kind="Pod")
SERVICES = Resource("", "v1", "services", namespaced=True, kind="Service")
ENDPOINTS = Resource("", "v1", "endpoints", namespaced=True, kind="Endpoints")
CONFIGMAPS = Resource("", "v1", "configmaps", namespaced=True, kind="ConfigMap")
SECRETS = Resource("", "v1", "secrets", namespaced=True, kind="Secret")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts", namespaced=True, kind="ServiceAccount")
PVCS = Resource("", "v1", "persistentvolumeclaims", namespaced=True, kind="PersistentVolumeClaim")
PVS = Resource("", "v1", "persistentvolumes", namespaced=False, kind="PersistentVolume")
EVENTS = Resource("", "v1", "events", namespaced=True, kind="Event")
STORAGECLASSES = Resource(
    "storage.k8s.io", "v1", "storageclasses", namespaced=False, kind="StorageClass"
)
LEASES = Resource("coordination.k8s.io", "v1", "leases", namespaced=True, kind="Lease")
DEPLOYMENTS = Resource("apps", "v1", "deployments", namespaced=True, kind="Deployment")
STATEFULSETS = Resource("apps", "v1", "statefulsets", namespaced=True, kind="StatefulSet")
ENDPOINTSLICES = Resource(
    "discovery.k8s.io", "v1", "endpointslices", namespaced=True, kind="EndpointSlice"
)
CRDS = Resource(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    namespaced=False,
    kind="CustomResourceDefinition",
)
