"""What a tenant control plane should be, decided from its VirtualCluster and ClusterVersion.

`ControlPlanePlan` is the provisioners' whole input: built by a pure function from the two
objects (with the schema's defaults already applied by the API server) and the operator's
settings, so every decision about names, versions and options is made, and tested, here.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from atoll.core import api as atoll_api
from atoll.core import naming

Datastore = Literal["etcd", "kine"]
ProvisionerName = Literal["process", "kubernetes"]

# Everything that acts on nodes belongs to the super-cluster, whose nodes they really are. A
# tenant that evicts pods from a virtual node whose heartbeats it cannot see makes those pods
# flap; it has no kubelet to attach volumes for, nor any use for node addresses or TTLs.
TENANT_CONTROLLERS = ",".join(
    (
        "*",
        "-node-lifecycle-controller",
        "-taint-eviction-controller",
        "-device-taint-eviction-controller",
        "-node-ipam-controller",
        "-ttl-controller",
        "-persistentvolume-attach-detach-controller",
    )
)


@dataclasses.dataclass(frozen=True)
class ControlPlanePlan:
    """Everything a provisioner needs to build, run or remove one tenant control plane."""

    vc_name: str
    vc_namespace: str
    vc_uid: str
    provisioner: ProvisionerName
    kubernetes_version: str
    datastore: Datastore
    datastore_mode: Literal["dedicated", "shared"]
    storage_size: str
    storage_class: str | None
    replicas: int
    service_type: Literal["ClusterIP", "NodePort", "LoadBalancer"]
    node_port: int | None
    service_annotations: dict[str, str]
    resources: dict[str, dict[str, Any]]
    extra_args: dict[str, tuple[str, ...]]
    cert_sans: tuple[str, ...]
    endpoint: str | None
    images: dict[str, str]
    # The tenant's Service addresses: its slice (see `service_ranges`), or the range tenants
    # without one share.
    service_range: str = atoll_api.UNSLICED_SERVICE_RANGE

    @property
    def cluster_namespace(self) -> str:
        """The super-cluster namespace that holds this control plane."""
        return naming.cluster_root(self.vc_namespace, self.vc_name, self.vc_uid)

    @property
    def labels(self) -> dict[str, str]:
        return naming.owner_labels(self.vc_namespace, self.vc_name, self.vc_uid)

    @property
    def minor(self) -> tuple[int, int]:
        major, minor, _ = parse_version(self.kubernetes_version)
        return major, minor


class PlanError(Exception):
    """The VirtualCluster asks for something that cannot be planned; the text says what."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def parse_version(text: str) -> tuple[int, int, int]:
    """`v1.37.2` → (1, 37, 2)."""
    try:
        major, minor, patch = (int(part) for part in text.removeprefix("v").split("."))
    except ValueError as error:
        raise PlanError("InvalidVersion", f"{text!r} is not a version like v1.37.2") from error
    return major, minor, patch


def check_upgrade(running: str | None, wanted: str) -> None:
    """Refuse a downgrade or a skipped minor version, as Kubernetes itself requires."""
    if not running:
        return
    old, new = parse_version(running), parse_version(wanted)
    if new < old:
        raise PlanError(
            "DowngradeRefused",
            f"the control plane runs {running}; downgrading to {wanted} is not "
            f"supported: set the version back to {running} or newer",
        )
    if new[0] != old[0] or new[1] > old[1] + 1:
        raise PlanError(
            "MinorVersionSkipped",
            f"the control plane runs {running}; {wanted} skips a minor version: "
            f"upgrade to v{old[0]}.{old[1] + 1} first",
        )


def build(
    vc: dict[str, Any], cluster_version: dict[str, Any], *, default_provisioner: ProvisionerName
) -> ControlPlanePlan:
    """The plan for `vc`; `cluster_version` is the ClusterVersion object it names."""
    metadata = vc["metadata"]
    spec = vc.get("spec") or {}
    control_plane = spec.get("controlPlane") or {}
    datastore = control_plane.get("datastore") or {}
    storage = datastore.get("storage") or {}
    service = control_plane.get("service") or {}
    extra_args = control_plane.get("extraArgs") or {}
    version_spec = cluster_version.get("spec") or {}

    kubernetes_version = str(version_spec["kubernetesVersion"])
    parse_version(kubernetes_version)
    images = {
        "apiServer": (version_spec.get("apiServer") or {}).get("image", ""),
        "controllerManager": (version_spec.get("controllerManager") or {}).get("image", ""),
        "etcd": (version_spec.get("etcd") or {}).get("image", ""),
        "kine": (version_spec.get("kine") or {}).get("image", ""),
    }
    version_args = {
        "apiServer": tuple((version_spec.get("apiServer") or {}).get("extraArgs") or ()),
        "controllerManager": tuple(
            (version_spec.get("controllerManager") or {}).get("extraArgs") or ()
        ),
    }

    return ControlPlanePlan(
        vc_name=metadata["name"],
        vc_namespace=metadata["namespace"],
        vc_uid=metadata["uid"],
        provisioner=control_plane.get("provisioner") or default_provisioner,
        kubernetes_version=kubernetes_version,
        datastore=datastore.get("type", "etcd"),
        datastore_mode=datastore.get("mode", "dedicated"),
        storage_size=str(storage.get("size", "1Gi")),
        storage_class=storage.get("storageClassName"),
        replicas=int(control_plane.get("replicas", 1)),
        service_type=service.get("type", "ClusterIP"),
        node_port=service.get("nodePort"),
        service_annotations=dict(service.get("annotations") or {}),
        resources=dict(control_plane.get("resources") or {}),
        # The VirtualCluster's own flags come last, so they win over the version's defaults.
        extra_args={
            component: (*version_args.get(component, ()), *extra_args.get(component, ()))
            for component in ("apiServer", "controllerManager", "datastore")
        },
        cert_sans=tuple(control_plane.get("certSANs") or ()),
        endpoint=control_plane.get("endpoint"),
        images=images,
    )
