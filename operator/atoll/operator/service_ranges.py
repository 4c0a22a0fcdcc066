"""Each tenant's own slice of service addresses, held on the super-cluster as a ServiceCIDR.

A tenant API server allocates its Services' cluster IPs from `--service-cluster-ip-range`.
When that range is a slice no other cluster uses, and the super-cluster serves the same
slice (a `ServiceCIDR` object, networking.k8s.io/v1), the syncer can create each super
Service with the very address the tenant allocated: the tenant's Service is right the
moment it is created, and nothing has to be recreated to learn a routable address.

Slices are cut from the operator's pool (`--tenant-service-ranges`, default 10.112.0.0/12,
in /20 slices) and are the first free ones, skipping any address a ServiceCIDR of the
super-cluster already covers — its own range included, whatever the pool says. The
ServiceCIDR is the record: it is named after the cluster's root namespace and labelled with
its owner, so a pass that died after creating it finds it again instead of taking a second
slice. Only one allocation runs at a time in the operator (the active replica), and each
reads the super-cluster afresh. The slice goes with the VirtualCluster, whatever its
deletion policy: retained data keeps no claim on addresses.

A running cluster never changes range: its API server would strand its Services. One that
ran before it had a slice keeps the range tenants without one share
(`api.UNSLICED_SERVICE_RANGE`), and so does every tenant of a super-cluster that serves no
ServiceCIDRs (before Kubernetes 1.33); the syncer then gives tenant Services the super
address where it can. A ServiceCIDR that went missing is made again with the same range, and
the cluster fails with the reason when that range is taken meanwhile.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from collections.abc import Iterable

from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources

SERVICE_CIDRS = resources.Resource(
    "networking.k8s.io", "v1", "servicecidrs", namespaced=False, kind="ServiceCIDR"
)
DEFAULT_POOL = "10.112.0.0/12"
DEFAULT_PREFIX = 20  # 4094 Services a tenant, 256 tenants in the default pool
KubeObject = kube_client.KubeObject
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_allocating = asyncio.Lock()


class RangeUnavailable(Exception):
    """No range can be given: the pool is full, or the cluster's own range is taken; the
    message says what to do."""


def check_pool(pool: str, prefix: int) -> Network:
    """The pool as a network; ValueError with a message naming the fix when it is unusable."""
    try:
        network = ipaddress.ip_network(pool)
    except ValueError as error:
        raise ValueError(f"{pool!r} is not a network in CIDR form, e.g. {DEFAULT_POOL}") from error
    most = 126 if network.version == 6 else 30
    if not network.prefixlen <= prefix <= most:
        raise ValueError(
            f"slices of /{prefix} do not fit {pool}: the slice prefix must lie between "
            f"/{network.prefixlen} and /{most}"
        )
    return network


def first_free(pool: Network, prefix: int, taken: Iterable[Network]) -> Network | None:
    """The first /`prefix` slice of `pool` that overlaps none of `taken`."""
    occupied = sorted(
        (network for network in taken if network.version == pool.version),
        key=lambda network: int(network.network_address),
    )
    size = 2 ** (pool.max_prefixlen - prefix)
    candidate = int(pool.network_address)
    end = int(pool.broadcast_address)
    for network in occupied:
        low, high = int(network.network_address), int(network.broadcast_address)
        if high < candidate:
            continue
        if candidate + size - 1 < low:
            break
        # Step past this network, to the next slice boundary.
        candidate = (high // size + 1) * size
    if candidate + size - 1 > end:
        return None
    return ipaddress.ip_network((candidate, prefix))


def gateway_address(service_range: str) -> str:
    """The first address of a range: the one the API server gives its `kubernetes` Service."""
    return str(ipaddress.ip_network(service_range).network_address + 1)


def _networks(service_cidr: KubeObject) -> list[Network]:
    return [ipaddress.ip_network(cidr) for cidr in service_cidr.get("spec", {}).get("cidrs", [])]


def _owned(service_cidr: KubeObject, vc_uid: str) -> bool:
    return (service_cidr["metadata"].get("labels") or {}).get(naming.VC_UID) == vc_uid


@dataclasses.dataclass(frozen=True)
class Held:
    """A tenant's range, and whether its ServiceCIDR is being deleted (it then gives no new
    addresses until it is gone)."""

    service_range: str
    deleting: bool = False


async def ensure(
    api: kube_client.Client,
    *,
    name: str,
    labels: dict[str, str],
    pool: Network,
    prefix: int,
    recorded: str | None = None,
) -> Held | None:
    """The tenant's service range: its ServiceCIDR's, made from the first free slice if new;
    None when the super-cluster serves no ServiceCIDRs.

    `recorded` is the range the tenant was given before: when its ServiceCIDR went missing,
    the same range is taken again, so that the tenant API server keeps it.
    """
    path = SERVICE_CIDRS.path(name=name)
    vc_uid = labels[naming.VC_UID]
    async with _allocating:
        try:
            existing = await api.get(path)
        except errors.NotFound:
            existing = None
        if existing is not None:
            if not _owned(existing, vc_uid):
                raise RangeUnavailable(
                    f"ServiceCIDR {name} exists on the super-cluster and is not this "
                    "VirtualCluster's: delete it"
                )
            deleting = bool(existing["metadata"].get("deletionTimestamp"))
            return Held(str(_networks(existing)[0]), deleting=deleting)

        try:
            listing = await api.get(SERVICE_CIDRS.path())
        except errors.NotFound:
            return None
        taken = [network for item in listing["items"] for network in _networks(item)]
        if recorded is not None:
            chosen = ipaddress.ip_network(recorded)
            if holders := [network for network in taken if chosen.overlaps(network)]:
                raise RangeUnavailable(
                    f"this cluster's ServiceCIDR {name} is gone and its range {recorded} is "
                    f"now served by another ({', '.join(map(str, holders))}): free that range "
                    "on the super-cluster; the cluster cannot move to another range"
                )
        else:
            found = first_free(pool, prefix, taken)
            if found is None:
                raise RangeUnavailable(
                    f"every /{prefix} slice of the tenant service pool {pool} is taken: give "
                    "the operator a larger --tenant-service-ranges, or delete VirtualClusters"
                )
            chosen = found
        body = {
            "apiVersion": SERVICE_CIDRS.api_version,
            "kind": SERVICE_CIDRS.kind,
            "metadata": {"name": name, "labels": labels},
            "spec": {"cidrs": [str(chosen)]},
        }
        await api.create(SERVICE_CIDRS.path(), body)
        return Held(str(chosen))


async def release(api: kube_client.Client, name: str, vc_uid: str) -> None:
    """Delete the tenant's ServiceCIDR; the super-cluster keeps it until its last Service
    is gone."""
    try:
        existing = await api.get(SERVICE_CIDRS.path(name=name))
    except errors.NotFound:
        return
    if not _owned(existing, vc_uid) or existing["metadata"].get("deletionTimestamp"):
        return
    try:
        await api.delete(SERVICE_CIDRS.path(name=name), uid=existing["metadata"]["uid"])
    except (errors.NotFound, errors.Conflict):
        return
