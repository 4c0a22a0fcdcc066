"""A tenant Service and its super Service agree on one cluster IP: the one that routes.

Normally nothing has to happen: the tenant allocates from its own slice of addresses, which
the super-cluster serves too, and the super Service is created with the tenant's address
(`kinds.desired`). Three cases need work, decided by `next_step`:

- The super-cluster refused the tenant's address (one of its own Services holds it). The
  super Service was created without it (`REFUSED` records which address was refused), and
  the tenant Service is created again without an address, so that its API server picks
  another one from the slice. The super Service is then made again with that one.
- A tenant without a slice (a super-cluster before ServiceCIDRs, a cluster created before
  slices) allocates from a range the super-cluster does not route for it: the tenant
  Service is created again with the super Service's address.
- A super Service whose address differs from a tenant address the super-cluster never
  refused is made again with the tenant's (the super Service is atoll's to replace; the
  tenant's is the user's).

Creating a tenant Service again is done so that nothing is lost if the syncer dies half-way:
the replacement is first written into the super Service (`REPLACING`), and a syncer that
finds the tenant Service gone and that record present creates the replacement instead of
deleting the super Service. A Service held by finalizers is never put into deletion; a
selector-less one is never created again (its tenant endpoints controller would remove the
Endpoints its user wrote): both keep an address that does not route, and the tenant is told.
"""

from __future__ import annotations

import contextlib
import ipaddress
from typing import TYPE_CHECKING, Literal

import orjson

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
Step = Literal["none", "clear-record", "recreate-super", "recreate-tenant"]


ADDRESSES = ("clusterIP", "clusterIPs")  # a Service's, chosen when it is created


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


def in_own_range(tenant: mapping.Tenant, address: str | None) -> bool:
    """Whether `address` comes from the tenant's own slice of service addresses."""
    if tenant.service_range is None or not address or address == "None":
        return False
    return ipaddress.ip_address(address) in ipaddress.ip_network(tenant.service_range)


def next_step(
    tenant: mapping.Tenant, tenant_service: KubeObject, super_service: KubeObject
) -> Step:
    """What brings the two Services to one address (see the module's docstring)."""
    tenant_ip = (tenant_service.get("spec") or {}).get("clusterIP")
    super_ip = (super_service.get("spec") or {}).get("clusterIP")
    annotations = super_service["metadata"].get("annotations") or {}
    if not tenant_ip or not super_ip or "None" in (tenant_ip, super_ip):
        return "none"  # headless, or not allocated yet
    if tenant_ip == super_ip:
        return "clear-record" if REPLACING in annotations else "none"
    if in_own_range(tenant, tenant_ip) and annotations.get(REFUSED) != tenant_ip:
        return "recreate-super"
    return "recreate-tenant"


async def agree(
    syncer: tenant_module.TenantSyncer, tenant_service: KubeObject, super_service: KubeObject
) -> None:
    """Take the step `next_step` names for this pair."""
    step = next_step(syncer.tenant, tenant_service, super_service)
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
    elif step == "recreate-tenant":
        await _recreate_tenant(syncer, tenant_service, super_service)


async def _recreate_tenant(
    syncer: tenant_module.TenantSyncer, tenant_service: KubeObject, super_service: KubeObject
) -> None:
    super_ip = super_service["spec"]["clusterIP"]
    tenant_ip = tenant_service["spec"]["clusterIP"]
    metadata = tenant_service["metadata"]
    if metadata.get("deletionTimestamp"):
        return  # on its way out: no address to give it
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
        return
    if metadata.get("finalizers"):
        await syncer.refuse(
            tenant_service,
            "AddressKept",
            f"this Service keeps cluster IP {tenant_ip}, which pods cannot reach: it must be "
            f"created again to get one that routes, and its finalizers "
            f"({', '.join(metadata['finalizers'])}) would hold the deletion; remove them",
        )
        return

    # With a slice, the tenant's API server picks another address of it; without, the
    # tenant takes the super address.
    spec = {name: value for name, value in tenant_service["spec"].items() if name not in ADDRESSES}
    if not in_own_range(syncer.tenant, tenant_ip):
        spec.update(clusterIP=super_ip, clusterIPs=[super_ip])
    replacement = {
        "apiVersion": "v1",
        "kind": "Service",
        "spec": spec,
        "metadata": {
            field: metadata[field]
            for field in ("name", "namespace", "labels", "annotations")
            if field in metadata
        },
    }
    super_metadata = super_service["metadata"]
    super_path = resources.SERVICES.path(super_metadata["namespace"], super_metadata["name"])
    path = resources.SERVICES.path(metadata["namespace"], metadata["name"])
    try:
        await _record(syncer, super_path, orjson.dumps(replacement).decode())
        try:
            await syncer.api.delete(path, uid=metadata["uid"])
        except (errors.NotFound, errors.Conflict):
            # Deleted or replaced by someone else meanwhile: not the syncer's to create.
            await _record(syncer, super_path, None)
            return
        with contextlib.suppress(errors.AlreadyExists):
            await syncer.api.create(resources.SERVICES.path(metadata["namespace"]), replacement)
        # Done: from now on a deletion of the tenant Service is its user's.
        await _record(syncer, super_path, None)
    except errors.NotFound:
        return  # the super Service went meanwhile; the next sync starts again
    syncer.log.info(
        "tenant_service_recreated",
        kind="Service",
        namespace=metadata["namespace"],
        name=metadata["name"],
        direction="up",
        old_ip=tenant_ip,
        cluster_ip=spec.get("clusterIP"),
    )


async def _record(syncer: tenant_module.TenantSyncer, super_path: str, value: str | None) -> None:
    """Write or clear the re-creation record; the cache sees it at once, since the tenant
    Service's deletion may be handled before the super watch shows the record."""
    recorded = await syncer.engine.api.patch(
        super_path, {"metadata": {"annotations": {REPLACING: value}}}
    )
    syncer.engine.super_informers["Service"].observe(recorded)


def replacing(super_service: KubeObject, tenant: mapping.Tenant) -> bool:
    """Whether `super_service` records a tenant Service re-creation still to finish."""
    if not mapping.owned_by(super_service, tenant):
        return False
    return REPLACING in (super_service["metadata"].get("annotations") or {})


async def finish_replacement(syncer: tenant_module.TenantSyncer, super_service: KubeObject) -> None:
    """Create the tenant Service a re-creation removed, from the copy in the super Service."""
    replacement = orjson.loads(super_service["metadata"]["annotations"][REPLACING])
    path = resources.SERVICES.path(replacement["metadata"]["namespace"])
    try:
        with contextlib.suppress(errors.AlreadyExists):
            await syncer.api.create(path, replacement)
    except errors.Invalid:
        # Its address is taken, or outside the tenant's range now: its API server picks.
        spec = {key: value for key, value in replacement["spec"].items() if key not in ADDRESSES}
        with contextlib.suppress(errors.AlreadyExists):
            await syncer.api.create(path, {**replacement, "spec": spec})
    metadata = super_service["metadata"]
    with contextlib.suppress(errors.NotFound):
        await _record(
            syncer, resources.SERVICES.path(metadata["namespace"], metadata["name"]), None
        )
