"""StorageClasses and PriorityClasses, up: the super-cluster's classes a tenant may use.

A tenant's claims and pods name classes that only the super-cluster acts on, so the tenant
gets a copy of each super class it may use: those the admin labels `atoll.dev/public: "true"`
and those its VirtualCluster lists in `spec.isolation.allowedStorageClasses` /
`allowedPriorityClasses`. A copy has the super class's name, fields, labels and annotations
(so the default StorageClass stays the default), plus the label `atoll.dev/copied-from:
super-cluster` that tells the syncer it is its own. A copy goes when its class is no longer
public nor allowed, or is deleted; a field that cannot change is changed by deleting the copy
and making it again. A class the tenant made itself is never touched, even one with the name
of a super class (the tenant is told once, by an Event).

One watch per kind on the super-cluster serves every tenant: each change is queued to every
tenant, whose `TenantSyncer` calls `ClassMirror.sync` with its own view.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import TYPE_CHECKING, Any

from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources
from atoll.syncer import isolation, tenant_events

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module
    from atoll.syncer import tenant as tenant_module

KubeObject = kube_client.KubeObject

PUBLIC_LABEL = naming.PUBLIC_LABEL
COPY_LABEL = f"{naming.LABEL_PREFIX}/copied-from"  # on tenant objects the syncer brought up
COPY_VALUE = "super-cluster"
COPY_SELECTOR = f"{COPY_LABEL}={COPY_VALUE}"
_NOT_COPIED_ANNOTATIONS = ("kubectl.kubernetes.io/last-applied-configuration",)

PRIORITY_CLASSES = resources.Resource(
    "scheduling.k8s.io", "v1", "priorityclasses", namespaced=False, kind="PriorityClass"
)


@dataclasses.dataclass(frozen=True)
class ClassKind:
    """How one kind of class comes up."""

    resource: resources.Resource
    fields: tuple[str, ...]  # top-level fields copied as they are
    immutable: tuple[str, ...]  # the API refuses changes to these: delete and create again
    allowed_list: str  # the spec.isolation list naming the classes allowed beyond the public

    @property
    def name(self) -> str:
        return self.resource.kind


STORAGE_CLASS = ClassKind(
    resources.STORAGECLASSES,
    fields=(
        "provisioner",
        "parameters",
        "reclaimPolicy",
        "volumeBindingMode",
        "allowVolumeExpansion",
        "mountOptions",
        "allowedTopologies",
    ),
    immutable=("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"),
    allowed_list="allowedStorageClasses",
)
PRIORITY_CLASS = ClassKind(
    PRIORITY_CLASSES,
    fields=("value", "globalDefault", "description", "preemptionPolicy"),
    immutable=("value", "preemptionPolicy"),
    allowed_list="allowedPriorityClasses",
)
KINDS = {kind.name: kind for kind in (STORAGE_CLASS, PRIORITY_CLASS)}


def is_copy(tenant_obj: KubeObject) -> bool:
    """Whether the syncer made `tenant_obj` (a copy of a super-cluster object)."""
    return (tenant_obj["metadata"].get("labels") or {}).get(COPY_LABEL) == COPY_VALUE


def offered(kind: ClassKind, super_class: KubeObject, tenant_spec: dict[str, Any]) -> bool:
    """Whether a tenant with VirtualCluster spec `tenant_spec` gets a copy of `super_class`."""
    metadata = super_class["metadata"]
    if metadata.get("deletionTimestamp"):
        return False
    if isolation.is_public(super_class):
        return True
    allowed = (tenant_spec.get("isolation") or {}).get(kind.allowed_list) or []
    return metadata["name"] in allowed


def tenant_copy(kind: ClassKind, super_class: KubeObject) -> KubeObject:
    """The tenant's copy of `super_class`."""
    metadata = super_class["metadata"]
    annotations = {
        key: value
        for key, value in (metadata.get("annotations") or {}).items()
        if key not in _NOT_COPIED_ANNOTATIONS
    }
    copy: KubeObject = {
        "apiVersion": kind.resource.api_version,
        "kind": kind.name,
        "metadata": {
            "name": metadata["name"],
            "labels": {**(metadata.get("labels") or {}), COPY_LABEL: COPY_VALUE},
            "annotations": annotations,
        },
    }
    for field in kind.fields:
        if field in super_class:
            copy[field] = super_class[field]
    return copy


def difference(
    kind: ClassKind, want: KubeObject, have: KubeObject
) -> tuple[KubeObject | None, bool]:
    """A merge patch bringing `have` to `want` (None: in step), and whether it may not be
    applied because an immutable field differs."""
    changes: KubeObject = {}
    metadata: KubeObject = {}
    for part in ("labels", "annotations"):
        wanted = want["metadata"].get(part) or {}
        current = have["metadata"].get(part) or {}
        if wanted != current:
            metadata[part] = {**{key: None for key in current if key not in wanted}, **wanted}
    if metadata:
        changes["metadata"] = metadata
    for field in kind.fields:
        if want.get(field) != have.get(field):
            changes[field] = want.get(field)
    recreate = any(field in changes for field in kind.immutable)
    return changes or None, recreate


class ClassMirror:
    """Shared watches on the super-cluster's classes; per-tenant copies."""

    def __init__(self, engine: engine_module.Engine) -> None:
        self.engine = engine
        self.informers = {
            kind.name: informer.Informer(engine.api, kind.resource) for kind in KINDS.values()
        }

    def synced(self) -> bool:
        return all(source.synced.is_set() for source in self.informers.values())

    def public_names(self, kind_name: str) -> list[str]:
        """The super-cluster classes of `kind_name` every tenant may use."""
        cache = self.informers[kind_name].cache
        return [name for name, obj in cache.items() if isolation.is_public(obj)]

    async def run(self) -> None:
        async with asyncio.TaskGroup() as group:
            for kind_name, source in self.informers.items():
                group.create_task(self._route(kind_name, source))

    async def _route(self, kind_name: str, source: informer.Informer) -> None:
        # Whether a tenant gets a class depends on that tenant: each one decides for itself.
        async for _event_type, super_class in source.events():
            for syncer in list(self.engine.tenants.values()):
                syncer.enqueue(kind_name, super_class["metadata"]["name"])

    def resync(self, syncer: tenant_module.TenantSyncer) -> None:
        """Queue every super class for `syncer`: those it lacks are made on the way."""
        for kind_name, source in self.informers.items():
            for name in list(source.cache):
                syncer.enqueue(kind_name, name)

    async def sync(self, syncer: tenant_module.TenantSyncer, kind: ClassKind, name: str) -> None:
        """Bring the tenant's copy of class `name` in line with the super-cluster."""
        super_class = self.informers[kind.name].cache.get(name)
        tenant_obj = syncer.informers[kind.name].cache.get(name)
        wanted = super_class is not None and offered(kind, super_class, syncer.tenant.spec)
        if tenant_obj is not None and not is_copy(tenant_obj):
            if wanted and not name.startswith("system-"):
                await tenant_events.record(
                    syncer,
                    tenant_obj,
                    "Normal",
                    "ClassNotCopied",
                    f"the super-cluster's {kind.name} {name} is not copied: this cluster "
                    "has its own of that name",
                )
            return
        if super_class is None or not wanted:
            await self._delete(syncer, kind, tenant_obj)
            return

        want = tenant_copy(kind, super_class)
        if tenant_obj is None:
            await self._create(syncer, kind, want)
            return
        change, recreate = difference(kind, want, tenant_obj)
        if change is None:
            return
        if recreate:
            # Its DELETED event queues this class again, and the new copy is made then.
            await self._delete(syncer, kind, tenant_obj)
            return
        with contextlib.suppress(errors.NotFound):
            await syncer.api.patch(kind.resource.path(name=name), change)
        syncer.log.info("class_updated", kind=kind.name, name=name, direction="up")

    async def _create(
        self, syncer: tenant_module.TenantSyncer, kind: ClassKind, want: KubeObject
    ) -> None:
        name = want["metadata"]["name"]
        try:
            await syncer.api.create(kind.resource.path(), want)
        except errors.AlreadyExists:
            return  # made since our cache was filled: its event brings it back here
        except (errors.Invalid, errors.Forbidden) as error:
            # Such as a second global default PriorityClass: retrying cannot help.
            syncer.log.warning(
                "class_refused", kind=kind.name, name=name, direction="up", error=str(error)
            )
            return
        syncer.log.info("class_copied", kind=kind.name, name=name, direction="up")

    async def _delete(
        self, syncer: tenant_module.TenantSyncer, kind: ClassKind, tenant_obj: KubeObject | None
    ) -> None:
        if tenant_obj is None or not is_copy(tenant_obj):
            return
        metadata = tenant_obj["metadata"]
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await syncer.api.delete(kind.resource.path(name=metadata["name"]), uid=metadata["uid"])
        syncer.log.info("class_removed", kind=kind.name, name=metadata["name"], direction="up")
