"""Bound PersistentVolumes, up: the tenant sees the volume its claim got on the super-cluster.

When the super counterpart of a tenant claim is Bound, the tenant gets a PersistentVolume
named as the super volume (unique on the super-cluster, so unique in the tenant, and easy to
match to it), with its capacity, access modes, class, volume mode, reclaim policy and mount
options, and a `claimRef` pre-binding it to the tenant claim. The tenant's own PV binder
does the rest, as for any pre-bound volume: it binds the claim to it, so the claim shows
Bound with `volumeName` set. The syncer writes neither the binding nor any status, so it
never fights that binder.

The volume source is a stand-in (CSI driver `super.atoll.dev`, the handle being the super
volume's name): the real source may name paths, servers or disks of the super-cluster, and
nothing in the tenant mounts it — the super pod mounts the super claim. Being CSI, the
tenant's binder leaves the deletion of a released copy to an outside deleter: the syncer,
which deletes the copy once its tenant claim is gone.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources
from atoll.syncer import cluster_objects, mapping

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module
    from atoll.syncer import tenant as tenant_module

KubeObject = kube_client.KubeObject

STAND_IN_DRIVER = "super.atoll.dev"
COPIED_SPEC = (
    "capacity",
    "accessModes",
    "storageClassName",
    "volumeMode",
    "persistentVolumeReclaimPolicy",
    "mountOptions",
    "volumeAttributesClassName",
)
# The API lets these change on a volume; the others are fixed once it exists.
_MUTABLE_SPEC = (
    "capacity",
    "accessModes",
    "storageClassName",
    "persistentVolumeReclaimPolicy",
    "mountOptions",
)


def tenant_volume(super_volume: KubeObject, tenant_claim: KubeObject) -> KubeObject:
    """The tenant's copy of `super_volume`, pre-bound to `tenant_claim`."""
    name = super_volume["metadata"]["name"]
    super_spec = super_volume.get("spec") or {}
    spec = {field: super_spec[field] for field in COPIED_SPEC if field in super_spec}
    spec["csi"] = {"driver": STAND_IN_DRIVER, "volumeHandle": name}
    claim = tenant_claim["metadata"]
    spec["claimRef"] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "namespace": claim["namespace"],
        "name": claim["name"],
        "uid": claim["uid"],
    }
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "labels": {cluster_objects.COPY_LABEL: cluster_objects.COPY_VALUE},
        },
        "spec": spec,
    }


def spec_change(want: KubeObject, have: KubeObject) -> KubeObject | None:
    """A merge patch for the fields of `have` that may change and differ; None if in step."""
    wanted, current = want["spec"], have.get("spec") or {}
    spec = {
        field: wanted.get(field)
        for field in _MUTABLE_SPEC
        if wanted.get(field) != current.get(field)
    }
    return {"spec": spec} if spec else None


def bound_volume_name(super_claim: KubeObject) -> str | None:
    """The super volume `super_claim` is bound to, once it is."""
    if (super_claim.get("status") or {}).get("phase") != "Bound":
        return None
    return (super_claim.get("spec") or {}).get("volumeName") or None


def named_elsewhere(tenant_claim: KubeObject, super_claim: KubeObject) -> str | None:
    """The volume `tenant_claim` names, when it is not the one its super counterpart is
    bound to: a name of the tenant's own choosing (the binder only ever writes a copy's)."""
    named = (tenant_claim.get("spec") or {}).get("volumeName")
    return named if named and named != bound_volume_name(super_claim) else None


def _claim_key(volume: KubeObject) -> str | None:
    ref = (volume.get("spec") or {}).get("claimRef") or {}
    return f"{ref['namespace']}/{ref['name']}" if ref.get("namespace") and ref.get("name") else None


class VolumeMirror:
    """A shared watch on super volumes; per-tenant copies of those bound to tenant claims."""

    def __init__(self, engine: engine_module.Engine) -> None:
        self.engine = engine
        # Volumes carry no ownership label (provisioners make them): all of them are watched.
        self.super_volumes = informer.Informer(engine.api, resources.PVS)

    def synced(self) -> bool:
        return self.super_volumes.synced.is_set()

    async def run(self) -> None:
        """Send each super volume change to the claim it is bound to, in its tenant."""
        async for _event_type, super_volume in self.super_volumes.events():
            ref = (super_volume.get("spec") or {}).get("claimRef") or {}
            # Looked up each time: a relist replaces the informer's cache.
            namespace = self.engine.super_cache("Namespace").get(ref.get("namespace") or "")
            owner = self.engine.by_uid.get(mapping.vc_uid_of(namespace or {}) or "")
            tenant_namespace = ((namespace or {}).get("metadata", {}).get("annotations") or {}).get(
                mapping.TENANT_NAMESPACE
            )
            if owner is not None and tenant_namespace and ref.get("name"):
                owner.enqueue("PersistentVolumeClaim", f"{tenant_namespace}/{ref['name']}")

    async def up(
        self, syncer: tenant_module.TenantSyncer, tenant_claim: KubeObject, super_claim: KubeObject
    ) -> None:
        """Give the tenant the volume `super_claim` is bound to, pre-bound to `tenant_claim`.

        A claim naming a volume itself gets none: the tenant's binder would never bind it to
        the copy, and would take the copy's claim reference back each time it was made.
        """
        if (named := named_elsewhere(tenant_claim, super_claim)) is not None:
            await syncer.refuse(
                tenant_claim,
                "VolumeNotFound",
                f"this claim names volume {named}, which this cluster does not have: its "
                "volumes are brought up from the super-cluster for claims that name none; "
                "create the claim again without spec.volumeName",
            )
            return
        name = bound_volume_name(super_claim)
        super_volume = self.super_volumes.cache.get(name or "")
        if name is None or super_volume is None:
            return  # not bound yet, or the volume's event is still to come and queues it
        ref = (super_volume.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") != super_claim["metadata"]["uid"]:
            return

        want = tenant_volume(super_volume, tenant_claim)
        current = syncer.informers["PersistentVolume"].cache.get(name)
        if current is None:
            await self._create(syncer, want, tenant_claim)
            return
        if ((current.get("spec") or {}).get("claimRef") or {}).get("uid") != tenant_claim[
            "metadata"
        ]["uid"]:
            return  # a copy for an earlier claim of that name: `sync` removes it
        if (change := spec_change(want, current)) is not None:
            with contextlib.suppress(errors.NotFound, errors.Invalid):
                await syncer.api.patch(resources.PVS.path(name=name), change)
            syncer.log.info("volume_updated", kind="PersistentVolume", name=name, direction="up")

    async def _create(
        self, syncer: tenant_module.TenantSyncer, want: KubeObject, tenant_claim: KubeObject
    ) -> None:
        name = want["metadata"]["name"]
        try:
            await syncer.api.create(resources.PVS.path(), want)
        except errors.AlreadyExists:
            existing = await syncer.api.get(resources.PVS.path(name=name))
            if not cluster_objects.is_copy(existing):
                await syncer.refuse(
                    tenant_claim,
                    "VolumeNameTaken",
                    f"this claim's volume {name} cannot be shown here: this cluster has a "
                    "PersistentVolume of its own with that name",
                )
            return
        syncer.log.info(
            "volume_copied",
            kind="PersistentVolume",
            name=name,
            namespace=tenant_claim["metadata"]["namespace"],
            claim=tenant_claim["metadata"]["name"],
            direction="up",
        )

    async def sync(self, syncer: tenant_module.TenantSyncer, name: str) -> None:
        """A tenant copy: removed once its claim is gone, else brought in line via the claim."""
        tenant_copy = syncer.informers["PersistentVolume"].cache.get(name)
        if tenant_copy is None:
            return
        key = _claim_key(tenant_copy)
        claim = syncer.informers["PersistentVolumeClaim"].cache.get(key or "")
        claim_uid = (tenant_copy["spec"].get("claimRef") or {}).get("uid")
        if claim is not None and claim["metadata"]["uid"] == claim_uid:
            syncer.enqueue("PersistentVolumeClaim", informer.object_key(claim))
            return
        metadata = tenant_copy["metadata"]
        if metadata.get("deletionTimestamp"):
            return
        # The binder marks it Released meanwhile; protection lets it go once it is not Bound.
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await syncer.api.delete(resources.PVS.path(name=name), uid=metadata["uid"])
        syncer.log.info("volume_removed", kind="PersistentVolume", name=name, direction="up")

    def claim_gone(self, syncer: tenant_module.TenantSyncer, claim_key: str) -> None:
        """Queue the copies bound to tenant claim `claim_key`, which is gone."""
        for name, tenant_copy in list(syncer.informers["PersistentVolume"].cache.items()):
            if _claim_key(tenant_copy) == claim_key:
                syncer.enqueue("PersistentVolume", name)
