"""A tenant's isolation policy (`spec.isolation`), as the syncer applies it on the way down.

Tenants are admins of their own clusters, so anything they write is checked here before a
super object stands for it:

- the pod security level: every pod is held to the Pod Security Standard the VirtualCluster
  names (`pods.security` knows the rules), and the super namespaces carry the same level for
  the super API server's own PodSecurity admission, as a second lock on the same door;
- the priority and runtime classes a pod may name, and the storage classes a claim may use:
  the public ones (labelled `atoll.dev/public: "true"` by the admin) plus those granted in
  `spec.isolation`;
- the aggregate quota over all of the tenant's pools: pods, CPU and memory are admitted by the
  pod syncer's ledger (`pod_caps`); Services, LoadBalancers, node ports, claims and storage
  are counted here from the tenant's super objects (`object_refusal`);
- the NetworkPolicy put in every super namespace of the tenant when `networkIsolation` is on:
  traffic only from and to the tenant's own namespaces, plus DNS, the tenant API server and
  addresses outside private ranges.

Everything here is a pure function of the spec and the objects it is given.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import urllib.parse
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from atoll.core import naming
from atoll.syncer import mapping
from atoll.syncer.pods import quota

KubeObject = dict[str, Any]

PUBLIC_LABEL = naming.PUBLIC_LABEL
POD_SECURITY_ENFORCE = "pod-security.kubernetes.io/enforce"
POD_SECURITY_VERSION = "pod-security.kubernetes.io/enforce-version"
NETWORK_POLICY_NAME = "atoll-isolation"
ISOLATES = f"{naming.LABEL_PREFIX}/isolates"  # on the NetworkPolicy: the tenant it confines
PRIVATE_RANGES = ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")
QUOTA_KINDS = ("Service", "PersistentVolumeClaim")  # kinds counted by `object_refusal`
OBJECT_LIMITS = (
    "services",
    "services.loadbalancers",
    "services.nodeports",
    "persistentvolumeclaims",
    "requests.storage",
)


@dataclasses.dataclass(frozen=True)
class Isolation:
    """`spec.isolation` with its defaults filled in."""

    pod_security: str = "baseline"
    network_isolation: bool = True
    quota: Mapping[str, Decimal] = dataclasses.field(default_factory=dict)
    storage_classes: frozenset[str] = frozenset()
    priority_classes: frozenset[str] = frozenset()
    runtime_classes: frozenset[str] = frozenset()


def of(spec: Mapping[str, Any]) -> Isolation:
    """The isolation policy of a VirtualCluster spec."""
    raw = spec.get("isolation") or {}
    caps = {
        name: Decimal(quota.parse_quantity(value))
        for name, value in (raw.get("quota") or {}).items()
        if value is not None
    }
    return Isolation(
        pod_security=str(raw.get("podSecurity") or "baseline"),
        network_isolation=bool(raw.get("networkIsolation", True)),
        quota=caps,
        storage_classes=frozenset(raw.get("allowedStorageClasses") or ()),
        priority_classes=frozenset(raw.get("allowedPriorityClasses") or ()),
        runtime_classes=frozenset(raw.get("allowedRuntimeClasses") or ()),
    )


def namespace_labels(isolation: Isolation) -> dict[str, str]:
    """Labels of every super namespace of the tenant: its level, for PodSecurity admission."""
    return {POD_SECURITY_ENFORCE: isolation.pod_security, POD_SECURITY_VERSION: "latest"}


def is_public(cluster_object: Mapping[str, Any]) -> bool:
    labels = (cluster_object.get("metadata") or {}).get("labels") or {}
    return labels.get(PUBLIC_LABEL) == "true"


def pod_caps(isolation: Isolation) -> quota.Usage:
    """The tenant-wide caps on pods, CPU and memory (only those the spec sets)."""
    return {name: value for name, value in isolation.quota.items() if name in quota.RESOURCES}


def class_refusal(
    isolation: Isolation, tenant_pod: Mapping[str, Any], public_priority_classes: Iterable[str]
) -> str | None:
    """Why the pod's priority or runtime class is not granted, or None."""
    spec = tenant_pod.get("spec") or {}
    priority_class = spec.get("priorityClassName")
    granted_priority = isolation.priority_classes | set(public_priority_classes)
    if priority_class and priority_class not in granted_priority:
        return (
            f"priorityClassName {priority_class} is not granted to this cluster; "
            f"use {_choices(granted_priority)}, or have the super-cluster admin add it to "
            "spec.isolation.allowedPriorityClasses or label it public"
        )
    runtime_class = spec.get("runtimeClassName")
    if runtime_class and runtime_class not in isolation.runtime_classes:
        return (
            f"runtimeClassName {runtime_class} is not granted to this cluster; "
            f"use {_choices(isolation.runtime_classes)}, or have the super-cluster admin add "
            "it to spec.isolation.allowedRuntimeClasses"
        )
    return None


def storage_class_refusal(
    isolation: Isolation, claim: Mapping[str, Any], public_storage_classes: Iterable[str]
) -> str | None:
    """Why a PersistentVolumeClaim's storage class is not granted, or None."""
    storage_class = (claim.get("spec") or {}).get("storageClassName")
    granted = isolation.storage_classes | set(public_storage_classes)
    if storage_class and storage_class not in granted:
        return (
            f"storageClassName {storage_class} is not granted to this cluster; use "
            f"{_choices(granted)}, or have the super-cluster admin add it to "
            "spec.isolation.allowedStorageClasses or label it public"
        )
    return None


def reference_refusal(kind_name: str, tenant_obj: Mapping[str, Any]) -> str | None:
    """Why an object would reach beyond the tenant on the super-cluster, or None."""
    spec = tenant_obj.get("spec") or {}
    if kind_name == "Service" and spec.get("externalIPs"):
        return (
            "spec.externalIPs would make every super-cluster node capture traffic to those "
            "addresses; remove spec.externalIPs (use type LoadBalancer instead)"
        )
    if kind_name == "PersistentVolumeClaim":
        for field in ("dataSource", "dataSourceRef"):
            source = spec.get(field) or {}
            if source.get("namespace") not in (None, tenant_obj["metadata"].get("namespace")):
                return (
                    f"spec.{field} names namespace {source['namespace']}; a claim may only "
                    f"copy data from its own namespace: remove spec.{field}.namespace"
                )
    # TODO(endpoints): addresses in hand-written Endpoints and EndpointSlices are copied as
    # they are; limiting them to the tenant's pods and outside addresses is not done yet.
    return None


def object_cost(kind_name: str, tenant_obj: Mapping[str, Any]) -> quota.Usage:
    """What one Service or claim counts against the tenant's object quota."""
    spec = tenant_obj.get("spec") or {}
    if kind_name == "Service":
        service_type = spec.get("type") or "ClusterIP"
        balanced = service_type == "LoadBalancer"
        allocates = service_type == "NodePort" or (
            balanced and spec.get("allocateLoadBalancerNodePorts", True) is not False
        )
        return {
            "services": Decimal(1),
            "services.loadbalancers": Decimal(1 if balanced else 0),
            "services.nodeports": Decimal(len(spec.get("ports") or []) if allocates else 0),
        }
    if kind_name == "PersistentVolumeClaim":
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        return {
            "persistentvolumeclaims": Decimal(1),
            "requests.storage": Decimal(quota.parse_quantity(storage or 0)),
        }
    return {}


def object_refusal(
    isolation: Isolation,
    kind_name: str,
    tenant_obj: Mapping[str, Any],
    owned: Iterable[Mapping[str, Any]],
) -> str | None:
    """Why `tenant_obj` would take the tenant over its object quota, or None.

    `owned` are the tenant's super objects of the same kind; the one standing for `tenant_obj`
    itself, if any, is left out, so an update is measured as a replacement.
    """
    need = object_cost(kind_name, tenant_obj)
    caps = {name: cap for name, cap in isolation.quota.items() if name in need}
    if not caps:
        return None
    own_uid = tenant_obj["metadata"].get("uid")
    usage: quota.Usage = {}
    for super_obj in owned:
        # Only copies of tenant objects count: not the control plane's own, nor this one.
        if mapping.tenant_uid_of(dict(super_obj)) not in (None, own_uid):
            usage = quota.add(usage, object_cost(kind_name, super_obj))
    for name in OBJECT_LIMITS:
        if name in caps and usage.get(name, Decimal(0)) + need.get(name, Decimal(0)) > caps[name]:
            return (
                f"the cluster's quota for {name} is {quota.show(caps[name])}; "
                f"{quota.show(usage.get(name, Decimal(0)))} in use and this {kind_name} needs "
                f"{quota.show(need[name])}. Delete one, or have the super-cluster admin raise "
                f"spec.isolation.quota.{name}"
            )
    return None


def network_policy(tenant: mapping.Tenant, super_namespace: str) -> KubeObject:
    """The NetworkPolicy that keeps a tenant's super namespace to the tenant."""
    own_namespaces = {"namespaceSelector": {"matchLabels": {naming.VC_UID: tenant.vc_uid}}}
    outside = {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(PRIVATE_RANGES)}}
    egress: list[KubeObject] = [
        {"to": [own_namespaces]},
        {
            "to": [
                {
                    "namespaceSelector": {},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                }
            ],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
        },
        {"to": [outside]},
    ]
    if (api_address := _api_address(tenant.server)) is not None:
        egress.append({"to": [{"ipBlock": {"cidr": api_address}}]})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {
            "name": NETWORK_POLICY_NAME,
            "namespace": super_namespace,
            # Not the tenant's ownership labels: a tenant object of the same name must meet a
            # super object it does not own, never this one to overwrite.
            "labels": {
                **{key: value for key, value in tenant.labels.items() if key != naming.VC_UID},
                ISOLATES: tenant.vc_uid,
            },
        },
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [own_namespaces, outside]}],
            "egress": egress,
        },
    }


def _api_address(server: str) -> str | None:
    # The tenant API server, when its URL names an address: pods must reach it for tokens.
    # (Served in-cluster, it lives in the tenant's control-plane namespace, which carries the
    # tenant's labels and so is one of its own namespaces.)
    try:
        address = ipaddress.ip_address(urllib.parse.urlsplit(server).hostname or "")
    except ValueError:
        # TODO(network): a tenant API server named by DNS is reached through the allowance
        # for addresses outside private ranges only; resolve it to allow it precisely.
        return None
    return f"{address}/{address.max_prefixlen}"


def _choices(names: Iterable[str]) -> str:
    listed = sorted(names)
    return "one of " + ", ".join(listed) if listed else "none"
