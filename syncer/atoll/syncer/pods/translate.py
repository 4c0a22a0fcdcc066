"""The super pod for a tenant pod, and the patch that keeps an existing one in step.

`super_pod` is the downward half of pod sync: the engine calls it with a tenant pod that
`placement.refusal` let through and creates what it returns. The super pod runs the tenant's
containers but must behave as if it lived in the tenant: it never mounts a super-cluster
token, it reaches the *tenant* API server with a token that server issued, its downward-API
identity is the tenant's, its DNS resolves the tenant's Service names, and its pod
(anti-)affinity cannot see other tenants' pods. Pods are mostly immutable, so `needs_update`
only carries the few fields the API lets change.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from atoll.core import naming
from atoll.syncer import mapping
from atoll.syncer.pods import placement as placements

SERVICE_ENV = (
    "KUBERNETES_SERVICE_HOST",
    "KUBERNETES_SERVICE_PORT",
    "KUBERNETES_SERVICE_PORT_HTTPS",
)
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace
# The super API server works these out itself (from the PriorityClass and RuntimeClass) and
# refuses a pod whose values disagree; ephemeral containers may not be set on create at all.
DERIVED_FIELDS = ("priority", "preemptionPolicy", "overhead", "ephemeralContainers")
# The tenant's annotation keys a super pod carries: those the tenant removes are removed, and
# those super-side components wrote (CNI plugins, for one) are left alone.
TENANT_ANNOTATIONS = f"{naming.LABEL_PREFIX}/tenant-annotations"
# Downward-API fields that differ on the super pod, and the annotation that holds the tenant's.
DOWNWARD_RECORDS = {
    "metadata.namespace": mapping.TENANT_NAMESPACE,
    "metadata.uid": mapping.TENANT_UID,
}
MAX_NAMESERVERS = 3  # the API's limits on a pod's dnsConfig
MAX_SEARCHES = 32


@dataclasses.dataclass(frozen=True)
class DnsSettings:
    """The super-cluster's DNS: the address pods ask, and the cluster domain it serves."""

    nameserver: str
    domain: str = "cluster.local"


@dataclasses.dataclass(frozen=True)
class PodContext:
    """What translating one tenant pod needs besides the pod itself."""

    tenant: mapping.Tenant
    placement: placements.Placement
    api_host: str  # where pods reach the tenant API server (host or IP)
    api_port: int
    token_secret: str | None  # super Secret with token, ca.crt, namespace; None: no token
    dns: DnsSettings | None = None  # None: the pod's DNS policy is left as the tenant set it


def mounts_token(tenant_pod: dict[str, Any]) -> bool:
    """Whether `tenant_pod` mounts a service-account token (so it needs a token Secret)."""
    return any(
        "serviceAccountToken" in source
        for volume in (tenant_pod.get("spec") or {}).get("volumes") or []
        for source in (volume.get("projected") or {}).get("sources") or []
    )


def super_pod(context: PodContext, tenant_pod: dict[str, Any]) -> dict[str, Any]:
    """The super pod standing for `tenant_pod`.

    With no `token_secret`, a token volume loses its token (never gets a super one): fine for
    comparing with `needs_update`, which ignores volumes, not for creating a pod.
    """
    # nodeName is copied when the tenant set it: before a tenant pod is bound it can only be
    # the tenant's own choice (refusal() checked its pool); after binding it is the node the
    # tenant already shows, where a recreated super pod must go too.
    spec = copy.deepcopy(tenant_pod.get("spec") or {})
    for field in DERIVED_FIELDS:
        spec.pop(field, None)

    # The super-cluster's own token must never reach a tenant's containers.
    spec["automountServiceAccountToken"] = False
    for volume in spec.get("volumes") or []:
        _use_tenant_token(context, volume)
        _downward_files_as_tenant(volume)
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        _aim_at_tenant(context, container)
    _confine_pod_affinity(context, spec)
    _resolve_as_tenant(context, tenant_pod["metadata"]["namespace"], spec)

    placements.apply(context.placement, spec)
    metadata = mapping.super_metadata(context.tenant, tenant_pod)
    copied = sorted(key for key in metadata["annotations"] if not mapping.atoll_key(key))
    if copied:
        metadata["annotations"][TENANT_ANNOTATIONS] = ",".join(copied)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def needs_update(desired: dict[str, Any], super_pod: dict[str, Any]) -> dict[str, Any] | None:
    """A strategic merge patch bringing `super_pod` to `desired` where a pod may change;
    None if in step.

    Containers are merged by name, so the patch names only those whose image changed (and
    `super_pod` may be the cache's slim copy, `cached_form`); every other list in it is whole.
    """
    metadata: dict[str, Any] = {}
    desired_meta, super_meta = desired.get("metadata") or {}, super_pod.get("metadata") or {}

    # Labels follow the tenant exactly (selectors depend on them). Annotations are added and
    # changed, and removed only when the super pod's record says they came from the tenant:
    # super-side components (CNI plugins, for one) annotate pods too.
    labels = _changed(desired_meta.get("labels") or {}, super_meta.get("labels") or {})
    labels |= dict.fromkeys(
        set(super_meta.get("labels") or {}) - set(desired_meta.get("labels") or {})
    )
    desired_annotations = desired_meta.get("annotations") or {}
    super_annotations = super_meta.get("annotations") or {}
    annotations = _changed(desired_annotations, super_annotations)
    recorded = super_annotations.get(TENANT_ANNOTATIONS, "")
    annotations |= dict.fromkeys(
        key
        for key in [*recorded.split(","), TENANT_ANNOTATIONS]
        if key and key in super_annotations and key not in desired_annotations
    )
    if labels:
        metadata["labels"] = labels
    if annotations:
        metadata["annotations"] = annotations

    spec: dict[str, Any] = {}
    desired_spec, super_spec = desired.get("spec") or {}, super_pod.get("spec") or {}
    for field in ("containers", "initContainers"):
        images = {item["name"]: item.get("image") for item in desired_spec.get(field) or []}
        changed = [
            {"name": item["name"], "image": images[item["name"]]}
            for item in super_spec.get(field) or []
            if item["name"] in images and images[item["name"]] != item.get("image")
        ]
        if changed:
            spec[field] = changed
    deadline = desired_spec.get("activeDeadlineSeconds")
    if deadline is not None and deadline != super_spec.get("activeDeadlineSeconds"):
        spec["activeDeadlineSeconds"] = deadline

    # Tolerations may only be added: the patch lists the existing ones, then the new.
    existing = list(super_spec.get("tolerations") or [])
    added = [item for item in desired_spec.get("tolerations") or [] if item not in existing]
    if added:
        spec["tolerations"] = existing + added

    patch = {key: value for key, value in (("metadata", metadata), ("spec", spec)) if value}
    return patch or None


def cached_form(super_pod: dict[str, Any]) -> dict[str, Any]:
    """What the syncer keeps of a super pod: metadata, status, and the spec fields it reads
    (node, pool selector, quota inputs, and what `needs_update` compares). Volumes,
    environment and the rest are most of a pod's size and are never read back."""
    spec = super_pod.get("spec") or {}
    kept = {field: spec[field] for field in _CACHED_SPEC if field in spec}
    for field in ("containers", "initContainers"):
        if field in spec:
            kept[field] = [
                {key: container[key] for key in _CACHED_CONTAINER if key in container}
                for container in spec[field]
            ]
    super_pod["spec"] = kept
    return super_pod


_CACHED_SPEC = ("nodeName", "nodeSelector", "activeDeadlineSeconds", "tolerations", "overhead")
_CACHED_CONTAINER = ("name", "image", "resources")


def _changed(desired: dict[str, str], current: dict[str, str]) -> dict[str, str | None]:
    return {key: value for key, value in desired.items() if current.get(key) != value}


def _use_tenant_token(context: PodContext, volume: dict[str, Any]) -> None:
    # The tenant's kube-api-access volume asks the kubelet for a token of *its* cluster; the
    # super kubelet would mint a super token instead, so the volume reads the Secret holding
    # a token the tenant API server issued, with that server's CA and the tenant namespace.
    projected = volume.get("projected") or {}
    sources = projected.get("sources") or []
    token_paths = [
        source["serviceAccountToken"].get("path", "token")
        for source in sources
        if "serviceAccountToken" in source
    ]
    if not token_paths:
        return
    items = [{"key": "token", "path": path} for path in token_paths]
    items += [{"key": "ca.crt", "path": "ca.crt"}, {"key": "namespace", "path": "namespace"}]
    taken = {item["path"] for item in items}
    kept = [
        trimmed
        for source in sources
        if "serviceAccountToken" not in source
        and (source.get("configMap") or {}).get("name") != ROOT_CA_CONFIGMAP
        and (trimmed := _without_paths(source, taken)) is not None
    ]
    if context.token_secret is None:
        projected["sources"] = kept
    else:
        secret = {"secret": {"name": context.token_secret, "items": items}}
        projected["sources"] = [secret, *kept]


def _without_paths(source: dict[str, Any], taken: set[str]) -> dict[str, Any] | None:
    """`source` without the files at `taken` paths (the Secret provides them); None if empty."""
    trimmed: dict[str, Any] = {}
    for kind, body in source.items():
        if not isinstance(body, dict):
            trimmed[kind] = body
            continue
        if body.get("path") in taken:
            return None
        if "items" in body:
            items = [item for item in body["items"] or [] if item.get("path") not in taken]
            if body["items"] and not items:
                return None
            trimmed[kind] = {**body, "items": items}
        else:
            trimmed[kind] = body
    return trimmed


def _downward_files_as_tenant(volume: dict[str, Any]) -> None:
    """Downward-API files of the pod's namespace and uid give the tenant's (`_tenant_field`).

    TODO(downward-api): a file of all labels or all annotations (`metadata.labels`,
    `metadata.annotations`) also lists atoll's ownership keys.
    """
    sources = [volume, *((volume.get("projected") or {}).get("sources") or [])]
    for source in sources:
        for item in (source.get("downwardAPI") or {}).get("items") or []:
            _tenant_field(item)


def _tenant_field(holder: dict[str, Any]) -> None:
    """Aim the `fieldRef` of a downward-API variable or file at the tenant pod's value where
    the super pod's differs: the ownership record in the super pod's annotations holds the
    tenant's namespace and uid (its name is the same)."""
    field_ref = holder.get("fieldRef") or {}
    record = DOWNWARD_RECORDS.get(str(field_ref.get("fieldPath")))
    if record is not None:
        holder["fieldRef"] = {**field_ref, "fieldPath": f"metadata.annotations['{record}']"}


def _aim_at_tenant(context: PodContext, container: dict[str, Any]) -> None:
    # In-cluster clients find the API server through these variables; they go first so that
    # the container's own variables may refer to them.
    port = str(context.api_port)
    ours = [
        {"name": "KUBERNETES_SERVICE_HOST", "value": context.api_host},
        {"name": "KUBERNETES_SERVICE_PORT", "value": port},
        {"name": "KUBERNETES_SERVICE_PORT_HTTPS", "value": port},
    ]
    env = [item for item in container.get("env") or [] if item.get("name") not in SERVICE_ENV]
    for item in env:
        if "valueFrom" in item:
            _tenant_field(item["valueFrom"])
    container["env"] = [*ours, *env]


def _resolve_as_tenant(context: PodContext, tenant_namespace: str, spec: dict[str, Any]) -> None:
    """Cluster DNS the way the tenant's pod would have it, from inside its super namespace.

    Service names are kept inside a super namespace, so a short name resolves through the
    one search domain `<super namespace>.svc.<domain>` to the tenant's own Service. The
    super kubelet's usual `svc.<domain>` and `<domain>` searches are left out: through them
    `name.namespace` and `name.namespace.svc` would reach the super-cluster's namespace of
    that name — another tenant's or the super-cluster's own Services — instead of failing.
    The tenant's own dnsConfig (nameservers, searches, options) is kept after ours.
    """
    # TODO(dns): names of other tenant namespaces (`name.namespace`, `...svc.cluster.local`)
    # do not resolve; a DNS view per tenant (a rewrite of `<namespace>` to its super
    # namespace) would resolve them.
    policy = spec.get("dnsPolicy") or "ClusterFirst"
    # With the host's network, ClusterFirst means the node's resolver, as Default does.
    cluster_dns = policy == "ClusterFirstWithHostNet" or (
        policy == "ClusterFirst" and not spec.get("hostNetwork")
    )
    if context.dns is None or not cluster_dns:
        return
    own = spec.get("dnsConfig") or {}
    super_namespace = mapping.super_namespace(context.tenant, tenant_namespace)
    nameservers = [context.dns.nameserver, *(own.get("nameservers") or [])]
    searches = [f"{super_namespace}.svc.{context.dns.domain}", *(own.get("searches") or [])]
    options = list(own.get("options") or [])
    if not any(option.get("name") == "ndots" for option in options):
        options.insert(0, {"name": "ndots", "value": "5"})  # what the kubelet gives cluster DNS
    spec["dnsPolicy"] = "None"
    spec["dnsConfig"] = {
        "nameservers": list(dict.fromkeys(nameservers))[:MAX_NAMESERVERS],
        "searches": list(dict.fromkeys(searches))[:MAX_SEARCHES],
        "options": options,
    }


def _confine_pod_affinity(context: PodContext, spec: dict[str, Any]) -> None:
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [
            weighted["podAffinityTerm"]
            for weighted in rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []
            if weighted.get("podAffinityTerm")
        ]
        for term in terms:
            _confine_term(context.tenant, term)


def _confine_term(tenant: mapping.Tenant, term: dict[str, Any]) -> None:
    # A term without namespaces or selector means the pod's own namespace: already mapped.
    if term.get("namespaces"):
        term["namespaces"] = [mapping.super_namespace(tenant, name) for name in term["namespaces"]]
    selector = term.get("namespaceSelector")
    if selector is None:
        return

    # Names in a selector are tenant names; the tenant's uid label keeps it inside the tenant.
    labels = selector.get("matchLabels") or {}
    if NAMESPACE_NAME_LABEL in labels:
        labels[NAMESPACE_NAME_LABEL] = mapping.super_namespace(tenant, labels[NAMESPACE_NAME_LABEL])
    for expression in selector.get("matchExpressions") or []:
        if expression.get("key") == NAMESPACE_NAME_LABEL and expression.get("values"):
            expression["values"] = [
                mapping.super_namespace(tenant, v) for v in expression["values"]
            ]
    selector["matchLabels"] = {**labels, naming.VC_UID: tenant.vc_uid}
