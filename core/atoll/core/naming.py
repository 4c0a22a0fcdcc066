"""Every name atoll derives on the super-cluster, in one place.

A VirtualCluster's control plane lives in its *root* namespace,
`<vc namespace>-<vc name>-<6 hex of sha256(vc uid)>`; its tenant namespace `X` maps to
`<vc namespace>-<vc name>-X-<6 hex of sha256(vc uid/X)>`. The hash at the end covers both the
cluster and the tenant namespace: with the parts merely joined by hyphens, a tenant namespace
beginning with another cluster's hash could land on that cluster's name. Names longer than a
Kubernetes name may be are cut and given a hash of the full name, so two different inputs
never map to one output.
"""

from __future__ import annotations

import hashlib

MAX_NAME = 63
LABEL_PREFIX = "atoll.dev"
VC_NAME = f"{LABEL_PREFIX}/vc-name"
VC_NAMESPACE = f"{LABEL_PREFIX}/vc-namespace"
VC_UID = f"{LABEL_PREFIX}/vc-uid"
COMPONENT = f"{LABEL_PREFIX}/component"
MANAGED_BY = "app.kubernetes.io/managed-by"
RETAINED = f"{LABEL_PREFIX}/retained"  # on a deleted cluster's namespace kept by Retain
PUBLIC_LABEL = f"{LABEL_PREFIX}/public"  # "true" on super classes every tenant may use


def short_hash(text: str, length: int = 6) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def fit(name: str, limit: int = MAX_NAME) -> str:
    """`name` if short enough, else its head plus a hash of the whole (still unique)."""
    if len(name) <= limit:
        return name
    digest = short_hash(name, 10)
    return f"{name[: limit - len(digest) - 1].rstrip('-.')}-{digest}"


def cluster_root(vc_namespace: str, vc_name: str, vc_uid: str) -> str:
    """The control-plane namespace of a VirtualCluster, prefix of all its namespaces."""
    # A VirtualCluster's name may hold dots (it is a DNS subdomain); a namespace may not.
    # The uid's hash keeps the root unique whatever the rewriting merges.
    label_name = vc_name.replace(".", "-")
    return fit(f"{vc_namespace}-{label_name}-{short_hash(vc_uid)}", limit=MAX_NAME - 10)


def tenant_namespace(vc_namespace: str, vc_name: str, vc_uid: str, namespace: str) -> str:
    """The super-cluster namespace that holds tenant namespace `namespace`."""
    label_name = vc_name.replace(".", "-")
    pair = short_hash(f"{vc_uid}/{namespace}")
    return fit(f"{vc_namespace}-{label_name}-{namespace}-{pair}")


def kubeconfig_secret(vc_name: str) -> str:
    """The Cluster API convention: `<cluster name>-kubeconfig`, key `value`."""
    return f"{vc_name}-kubeconfig"


def owner_labels(vc_namespace: str, vc_name: str, vc_uid: str) -> dict[str, str]:
    """Labels that tie a super-cluster object to its VirtualCluster."""
    return {
        VC_NAMESPACE: vc_namespace,
        VC_NAME: vc_name,
        VC_UID: vc_uid,
        MANAGED_BY: "atoll",
    }
