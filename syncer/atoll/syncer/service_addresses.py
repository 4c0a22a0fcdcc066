"""A tenant Service and its super Service agree on one cluster IP: the one that routes.

Normally nothing has to happen: the tenant allocates from its own slice of addresses, which
the super-cluster serves too, and the super Service is created with the tenant's address
(`kinds.desired`). The cases that need work are decided by `next_step`:

- The super-cluster refused the tenant's address (one of its own Services holds it). The
  super Service was created without it (`REFUSED` records which address was refused), and
  the tenant Service is created again without an address, so that its API server picks
  another one from the slice. The super Service is then made again with that one.
- A tenant without a slice allocates from a range the super-cluster does not keep for it:
  the tenant Service is created again with the super Service's address, when its API server
  can hold that address at all.
- A super Service whose address differs from a tenant address the super-cluster never
  refused is made again with the tenant's (the super Service is atoll's to replace; the
  tenant's is the user's).

A tenant Service is created again at most `MAX_RECREATIONS` times (a super-cluster that
refuses every address of a slice must not make the syncer delete it for ever). When it may
not be, it keeps an address that does not route and the tenant is told: so does a Service
held by finalizers (it would never be deleted), and a selector-less one (its tenant endpoints
controller would remove the Endpoints its user wrote).

Nothing is lost if the syncer dies half-way: the replacement is written into the super
Service first (`REPLACING`), then the old tenant Service deleted, the replacement created,
and its uid added to the record. A syncer that finds the tenant Service missing and the
record present creates the replacement, unless the record names one already made: that one
is only not seen yet, or its user deleted it since. The record goes once both sides agree.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import TYPE_CHECKING, Literal

import orjson

from atoll.core import api as atoll_api
from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import mapping

if TYPE_CHECKING:
    from atoll.syncer import tenant as tenant_module

KubeObject = kube_client.KubeObject
# On a super Service: the tenant Service being created again, as it will be created.
REPLACING = f"{naming.LABEL_PREFIX}/replacing-tenant-service"
# On a super Service made without the tenant's address: the address the super refused.
REFUSED = f"{naming.LABEL_PREFIX}/refused-cluster-ip"
ADDRESSES = ("clusterIP", "clusterIPs")  # a Service's, chosen when it is created
MAX_RECREATIONS = 3  # per tenant Service, while the syncer runs
Step = Literal["none", "clear-record", "recreate-super", "recreate-tenant", "keep"]


def in_own_range(tenant: mapping.Tenant, address: str | None) -> bool:
    """Whether `address` comes from the tenant's own slice of service addresses."""
    if tenant.service_range is None or not address or address == "None":
        return False
    return ipaddress.ip_address(address) in ipaddress.ip_network(tenant.service_range)


def holdable(tenant: mapping.Tenant, address: str) -> bool:
    """Whether the tenant API server can give a Service `address`."""
    served = tenant.service_range or atoll_api.UNSLICED_SERVICE_RANGE
    return ipaddress.ip_address(address) in ipaddress.ip_network(served)


def refused_form(want: KubeObject) -> KubeObject | None:
    """The super Service `want` without the address the super-cluster refused, recording
    which it was; None when `want` asks for no address."""
    spec = want.get("spec") or {}
    refused = spec.get("clusterIP")
    if refused in (None, "None"):
        return None
    metadata = want["metadata"]
    return {
        **want,
        "metadata": {**metadata, "annotations": {**metadata["annotations"], REFUSED: refused}},
        "spec": {key: value for key, value in spec.items() if key not in ADDRESSES},
    }


def next_step(
    tenant: mapping.Tenant,
    tenant_service: KubeObject,
    super_service: KubeObject,
    recreated: int = 0,
) -> Step:
    """What brings the two Services to one address (see the module's docstring);
    `recreated` counts the times the tenant Service was created again already."""
    tenant_ip = (tenant_service.get("spec") or {}).get("clusterIP")
    super_ip = (super_service.get("spec") or {}).get("clusterIP")
    annotations = super_service["metadata"].get("annotations") or {}
    if not tenant_ip or not super_ip or "None" in (tenant_ip, super_ip):
        return "none"  # headless, or not allocated yet
    if tenant_ip == super_ip:
        return "clear-record" if REPLACING in annotations else "none"
    if in_own_range(tenant, tenant_ip) and annotations.get(REFUSED) != tenant_ip:
        return "recreate-super"
    # The tenant Service needs another address: one its API server picks from its slice, or
    # the super address, which a tenant without a slice may not be able to hold.
    if recreated >= MAX_RECREATIONS:
        return "keep"
    if tenant.service_range is not None or holdable(tenant, super_ip):
        return "recreate-tenant"
    return "keep"


async def agree(
    syncer: tenant_module.TenantSyncer, tenant_service: KubeObject, super_service: KubeObject
) -> None:
    """Take the step `next_step` names for this pair."""
    key = _key(tenant_service)
    step = next_step(syncer.tenant, tenant_service, super_service, syncer.recreated[key])
    super_metadata = super_service["metadata"]
    super_path = resources.SERVICES.path(super_metadata["namespace"], super_metadata["name"])
    if step == "clear-record":
        with contextlib.suppress(errors.NotFound):
            await _record(syncer, super_path, None)
    elif step == "recreate-super" and not super_metadata.get("deletionTimestamp"):
        # Its deletion, seen by the super watch, brings the tenant Service back to the queue:
        # that sync creates it with the tenant's address, or records its refusal.
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await syncer.engine.api.delete(super_path, uid=super_metadata["uid"])
    elif step == "keep":
        await _keep(syncer, tenant_service, super_service)
    elif step == "recreate-tenant" and await _may_recreate(syncer, tenant_service):
        await _recreate_tenant(syncer, tenant_service, super_service)
        syncer.recreated[key] += 1


async def _keep(
    syncer: tenant_module.TenantSyncer, tenant_service: KubeObject, super_service: KubeObject
) -> None:
    tenant_ip = tenant_service["spec"]["clusterIP"]
    why = (
        f"the super-cluster refused {MAX_RECREATIONS} of its addresses"
        if syncer.tenant.service_range is not None
        else f"its copy on the super-cluster has {super_service['spec']['clusterIP']}, which "
        "this cluster's API server cannot give (the cluster has no service range of its own)"
    )
    await syncer.refuse(
        tenant_service,
        "AddressKept",
        f"this Service keeps cluster IP {tenant_ip}, which pods cannot reach: {why}; ask the "
        "super-cluster admin",
    )


async def _may_recreate(syncer: tenant_module.TenantSyncer, tenant_service: KubeObject) -> bool:
    """Whether the tenant Service may be deleted and created again; says why not."""
    metadata = tenant_service["metadata"]
    tenant_ip = tenant_service["spec"]["clusterIP"]
    if metadata.get("deletionTimestamp"):
        return False  # on its way out: no address to give it
    if not (tenant_service.get("spec") or {}).get("selector"):
        # TODO(service-cidr): a selector-less Service keeps an address the super-cluster
        # refused or does not route; a tenant API server that hands out no address the
        # super-cluster holds would end this.
        await syncer.refuse(
            tenant_service,
            "AddressKept",
            f"this Service keeps cluster IP {tenant_ip}, which pods cannot reach: the "
            "super-cluster holds it, and a Service without a selector is not created again "
            "(its Endpoints would be lost); delete it and create it again",
        )
        return False
    if metadata.get("finalizers"):
        await syncer.refuse(
            tenant_service,
            "AddressKept",
            f"this Service keeps cluster IP {tenant_ip}, which pods cannot reach: it must be "
            f"created again to get one that routes, and its finalizers "
            f"({', '.join(metadata['finalizers'])}) would hold the deletion; remove them",
        )
        return False
    return True


async def _recreate_tenant(
    syncer: tenant_module.TenantSyncer, tenant_service: KubeObject, super_service: KubeObject
) -> None:
    metadata = tenant_service["metadata"]
    super_metadata = super_service["metadata"]
    super_path = resources.SERVICES.path(super_metadata["namespace"], super_metadata["name"])
    spec = {name: value for name, value in tenant_service["spec"].items() if name not in ADDRESSES}
    if syncer.tenant.service_range is None:
        # Without a slice the tenant takes the super address; with one, its API server picks.
        super_ip = super_service["spec"]["clusterIP"]
        spec.update(clusterIP=super_ip, clusterIPs=[super_ip])
    replacement = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": spec,
        "metadata": {
            field: metadata[field]
            for field in ("name", "namespace", "labels", "annotations", "ownerReferences")
            if field in metadata
        },
    }
    path = resources.SERVICES.path(metadata["namespace"], metadata["name"])
    try:
        await _record(syncer, super_path, orjson.dumps(replacement).decode())
        try:
            await syncer.api.delete(path, uid=metadata["uid"])
        except (errors.NotFound, errors.Conflict):
            # Deleted or replaced by someone else meanwhile: not the syncer's to create.
            await _record(syncer, super_path, None)
            return
        try:
            created = await _create(syncer, replacement)
        except errors.AlreadyExists:
            # Its user made one of that name meanwhile: theirs stands, nothing to finish.
            await _record(syncer, super_path, None)
            return
        await _record(syncer, super_path, _made(replacement, created))
    except errors.NotFound:
        return  # the super Service went meanwhile; the next sync starts again
    syncer.log.info(
        "tenant_service_recreated",
        kind="Service",
        namespace=metadata["namespace"],
        name=metadata["name"],
        direction="up",
        old_ip=tenant_service["spec"]["clusterIP"],
        cluster_ip=created["spec"].get("clusterIP"),
    )


async def _create(syncer: tenant_module.TenantSyncer, replacement: KubeObject) -> KubeObject:
    """Create the replacement; its API server picks the address when it refuses the one
    asked for (taken, or outside its range)."""
    path = resources.SERVICES.path(replacement["metadata"]["namespace"])
    metadata = {key: value for key, value in replacement["metadata"].items() if key != "uid"}
    body = {**replacement, "metadata": metadata}
    try:
        return await syncer.api.create(path, body)
    except errors.Invalid:
        spec = {key: value for key, value in body["spec"].items() if key not in ADDRESSES}
        return await syncer.api.create(path, {**body, "spec": spec})


def _made(replacement: KubeObject, created: KubeObject) -> str:
    """The record once the replacement exists: the same, with the uid it was given."""
    metadata = {**replacement["metadata"], "uid": created["metadata"]["uid"]}
    return orjson.dumps({**replacement, "metadata": metadata}).decode()


async def _record(syncer: tenant_module.TenantSyncer, super_path: str, value: str | None) -> None:
    """Write or clear the re-creation record; the cache sees it at once, since the tenant
    Service's deletion may be handled before the super watch shows the record."""
    recorded = await syncer.engine.api.patch(
        super_path, {"metadata": {"annotations": {REPLACING: value}}}
    )
    syncer.engine.super_informers["Service"].observe(recorded)


def replacing(super_service: KubeObject, tenant: mapping.Tenant) -> bool:
    """Whether `super_service` records a tenant Service re-creation not yet seen through."""
    if not mapping.owned_by(super_service, tenant):
        return False
    return REPLACING in (super_service["metadata"].get("annotations") or {})


async def finish_replacement(syncer: tenant_module.TenantSyncer, super_service: KubeObject) -> None:
    """The tenant Service is missing from the cache while a re-creation is recorded."""
    replacement = orjson.loads(super_service["metadata"]["annotations"][REPLACING])
    metadata = super_service["metadata"]
    super_path = resources.SERVICES.path(metadata["namespace"], metadata["name"])
    made = replacement["metadata"].get("uid")
    if made is None:
        # The syncer that began it died before creating the replacement.
        with contextlib.suppress(errors.AlreadyExists):
            created = await _create(syncer, replacement)
            await _record(syncer, super_path, _made(replacement, created))
        return
    path = resources.SERVICES.path(
        replacement["metadata"]["namespace"], replacement["metadata"]["name"]
    )
    try:
        await syncer.api.get(path)
    except errors.NotFound:
        # Made, and deleted by its user since: the super Service goes the usual way.
        with contextlib.suppress(errors.NotFound):
            await _record(syncer, super_path, None)
        syncer.enqueue("Service", _key(replacement))
    # Otherwise it exists and the watch has not shown it yet: its event brings it.


def _key(obj: KubeObject) -> str:
    return f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
