"""A simulated cloud load-balancer controller: loopback addresses for LoadBalancer Services.

In a cloud, the provider's controller gives every Service of type LoadBalancer an external
address and writes it to the Service's status; the local super-cluster has no cloud, so
nothing would, and whatever waits for that address would wait forever. `LoadBalancers` plays
the provider: an informer watches every Service and workers give each LoadBalancer Service
without an address one from `NETWORK`, inside loopback so that nothing on this machine ever
sends traffic elsewhere, and take it back when the Service goes or stops being a
LoadBalancer. `LoadBalancerAddresses` learns the addresses Services already hold before it
hands out any, so a restarted simulator gives no address twice. Nothing listens on them.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import MutableMapping
from typing import Literal

import structlog

from atoll.core import backoff
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources
from atoll.local.nodesim import workqueue

KubeObject = kube_client.KubeObject
Step = Literal["assign", "clear", "none"]

NETWORK = ipaddress.IPv4Network("127.2.0.0/16")
LOOPBACK = ipaddress.IPv4Network("127.0.0.0/8")

log = structlog.get_logger("atoll.nodesim.loadbalancers")


class AddressesExhausted(Exception):
    """Every load-balancer address is in use."""


class LoadBalancerAddresses:
    """The addresses of the load balancers, one per Service uid, taken round-robin.

    Round-robin rather than lowest-free: a freed address is not handed out again at once,
    so a client that still remembers a deleted Service does not reach its successor.
    """

    def __init__(self, network: ipaddress.IPv4Network = NETWORK) -> None:
        if not network.subnet_of(LOOPBACK):
            raise ValueError(f"{network} is not inside {LOOPBACK}: addresses stay on loopback")
        self.network = network
        self._by_service: dict[str, ipaddress.IPv4Address] = {}
        self._holders: dict[ipaddress.IPv4Address, str] = {}
        self._first = network.network_address + 1
        self._capacity = network.num_addresses - 2
        self._cursor = 0

    def __len__(self) -> int:
        return len(self._by_service)

    def address_of(self, service_uid: str) -> str | None:
        address = self._by_service.get(service_uid)
        return None if address is None else str(address)

    def assign(self, service_uid: str) -> str:
        """The Service's address: the one it holds already, or the next free one."""
        if (held := self._by_service.get(service_uid)) is not None:
            return str(held)

        for step in range(self._capacity):
            candidate = self._first + (self._cursor + step) % self._capacity
            if candidate not in self._holders:
                self._cursor = (self._cursor + step + 1) % self._capacity
                self._take(service_uid, candidate)
                return str(candidate)
        raise AddressesExhausted(f"all {self._capacity} addresses of {self.network} are in use")

    def learn(self, service_uid: str, address: str) -> bool:
        """Record an address a Service already holds; False if it is not ours to track."""
        try:
            parsed = ipaddress.IPv4Address(address)
        except ValueError:
            return False
        if parsed not in self.network or self._holders.get(parsed, service_uid) != service_uid:
            return False

        self.release(service_uid)
        self._take(service_uid, parsed)
        return True

    def release(self, service_uid: str) -> None:
        """Free the Service's address, if it holds one."""
        address = self._by_service.pop(service_uid, None)
        if address is not None:
            del self._holders[address]

    def _take(self, service_uid: str, address: ipaddress.IPv4Address) -> None:
        self._by_service[service_uid] = address
        self._holders[address] = service_uid


def wants_address(service: KubeObject) -> bool:
    """A LoadBalancer Service meant for the default controller, which we stand in for."""
    spec = service.get("spec") or {}
    # A Service naming a loadBalancerClass asks for another implementation, not the cloud's.
    return spec.get("type") == "LoadBalancer" and not spec.get("loadBalancerClass")


def ingress_addresses(service: KubeObject) -> list[str]:
    """The IPs in the Service's `status.loadBalancer.ingress`."""
    return [str(entry["ip"]) for entry in _ingress(service) if entry.get("ip")]


def plan(service: KubeObject, network: ipaddress.IPv4Network = NETWORK) -> Step:
    """Give a LoadBalancer without an address one; take ours back from any other Service."""
    if wants_address(service):
        return "none" if _ingress(service) else "assign"
    if any(_inside(address, network) for address in ingress_addresses(service)):
        return "clear"
    return "none"


class LoadBalancers:
    """Plays the cloud's load-balancer controller for every Service of the cluster."""

    def __init__(
        self, client: kube_client.Client, writes: asyncio.Semaphore, *, workers: int = 4
    ) -> None:
        self._client = client
        self._writes = writes
        self._workers = workers
        self._addresses = LoadBalancerAddresses()
        self._queue = workqueue.KeyQueue()
        self._retries: dict[str, backoff.Backoff] = {}
        self._informer = informer.Informer(client, resources.SERVICES)
        self._learned_from: MutableMapping[str, KubeObject] | None = None

    async def run(self) -> None:
        """Watch Services and address them until cancelled."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self._workers):
                group.create_task(self._work())
            group.create_task(self._watch())

    async def _watch(self) -> None:
        async for event_type, service in self._informer.events():
            # Every list brings a fresh cache; learn all of it before handing out anything.
            if self._informer.cache is not self._learned_from:
                for cached in self._informer.cache.values():
                    self._learn(cached)
                self._learned_from = self._informer.cache
            self._observe(event_type, service)

    def _observe(self, event_type: str, service: KubeObject) -> None:
        key = informer.object_key(service)
        if event_type == "DELETED" or not wants_address(service):
            self._addresses.release(service["metadata"]["uid"])
        if event_type == "DELETED":
            self._retries.pop(key, None)
            return

        self._learn(service)
        if plan(service) != "none":
            self._queue.add(key)

    def _learn(self, service: KubeObject) -> None:
        if wants_address(service):
            for address in ingress_addresses(service):
                self._addresses.learn(service["metadata"]["uid"], address)

    async def _work(self) -> None:
        await workqueue.serve(self._queue, self._sync, what="Service")

    async def _sync(self, key: str) -> None:
        service = self._informer.cache.get(key)
        if service is None:
            return
        metadata = service["metadata"]
        service_log = log.bind(
            kind="Service", namespace=metadata["namespace"], name=metadata["name"]
        )
        try:
            await self._step(service, service_log)
        except (errors.NotFound, errors.Conflict) as error:
            # Gone or changed since it was read: a newer watch event follows.
            service_log.debug("load_balancer_write_skipped", reason=type(error).__name__)
        except errors.ApiError as error:
            if errors.is_retryable(error):
                delay = self._retries.setdefault(key, backoff.Backoff()).next_delay()
                service_log.debug("load_balancer_retry", error=str(error), delay=round(delay, 2))
                self._queue.add_later(key, delay)
                return
            service_log.warning("load_balancer_write_failed", error=str(error), status=error.status)
        except AddressesExhausted as error:
            service_log.warning("load_balancer_not_addressed", error=str(error))
        self._retries.pop(key, None)

    async def _step(
        self, service: KubeObject, service_log: structlog.typing.FilteringBoundLogger
    ) -> None:
        metadata = service["metadata"]
        step = plan(service)
        if step == "assign":
            address = self._addresses.assign(metadata["uid"])
            balancer: KubeObject = {"ingress": [{"ip": address, "ipMode": "VIP"}]}
            service_log = service_log.bind(address=address)
        elif step == "clear":
            balancer = {"ingress": None}
        else:
            return

        # The resourceVersion makes the patch fail rather than address a Service whose type
        # changed since the cache saw it.
        patch = {
            "metadata": {"resourceVersion": metadata["resourceVersion"]},
            "status": {"loadBalancer": balancer},
        }
        path = resources.SERVICES.path(metadata["namespace"], metadata["name"], "status")
        async with self._writes:
            await self._client.patch(path, patch)
        service_log.debug("load_balancer_status_posted", step=step)


def _ingress(service: KubeObject) -> list[KubeObject]:
    balancer = (service.get("status") or {}).get("loadBalancer") or {}
    return list(balancer.get("ingress") or [])


def _inside(address: str, network: ipaddress.IPv4Network) -> bool:
    # Ingress entries may hold IPv6 or text written by someone else; only IPv4 can be ours.
    try:
        return ipaddress.IPv4Address(address) in network
    except ValueError:
        return False
