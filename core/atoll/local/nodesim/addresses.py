"""Loopback addresses for simulated nodes and their pods.

Everything the simulator announces lies in 127.0.0.0/8, so that nothing on this machine ever
sends traffic off loopback, even when the API server dials a node (for `kubectl logs`) or a
component dials a pod. Node `i` of the layout is `127.1.<i // 254>.<i % 254 + 1>`; its pods
take addresses from a /20 of its own inside 127.128.0.0/9 (4,094 addresses against a pod
capacity of 500), handed out round-robin so a freed address is not reused at once. The plan
holds `layout.MAX_NODES` nodes.
"""

from __future__ import annotations

import ipaddress

NODE_NETWORK = ipaddress.IPv4Network("127.1.0.0/16")
POD_NETWORK = ipaddress.IPv4Network("127.128.0.0/9")
POD_BLOCK_PREFIX = 20

_HOSTS_PER_OCTET = 254
_BLOCK_SIZE = 2 ** (32 - POD_BLOCK_PREFIX)


class AddressesExhausted(Exception):
    """Every pod address of a node is in use."""


def node_ip(index: int) -> str:
    """The InternalIP of the layout's node number `index`."""
    third, fourth = divmod(index, _HOSTS_PER_OCTET)
    return str(NODE_NETWORK.network_address + third * 256 + fourth + 1)


def pod_network(index: int) -> ipaddress.IPv4Network:
    """The block the pods of the layout's node number `index` take their addresses from."""
    start = POD_NETWORK.network_address + index * _BLOCK_SIZE
    return ipaddress.IPv4Network((start, POD_BLOCK_PREFIX))


class PodAddresses:
    """The pod addresses of one node, one per pod uid; `learn` what pods already hold."""

    def __init__(self, network: ipaddress.IPv4Network) -> None:
        self.network = network
        self._by_pod: dict[str, ipaddress.IPv4Address] = {}
        self._holders: dict[ipaddress.IPv4Address, str] = {}
        self._first = network.network_address + 1
        self._capacity = network.num_addresses - 2
        self._cursor = 0

    def __len__(self) -> int:
        return len(self._by_pod)

    def address_of(self, pod_uid: str) -> str | None:
        """The address assigned to a pod, if it has one."""
        address = self._by_pod.get(pod_uid)
        return None if address is None else str(address)

    def assign(self, pod_uid: str) -> str:
        """The pod's address: the one it holds already, or the next free one."""
        if (held := self._by_pod.get(pod_uid)) is not None:
            return str(held)

        for step in range(self._capacity):
            candidate = self._first + (self._cursor + step) % self._capacity
            if candidate not in self._holders:
                self._cursor = (self._cursor + step + 1) % self._capacity
                self._take(pod_uid, candidate)
                return str(candidate)
        raise AddressesExhausted(f"all {self._capacity} addresses of {self.network} are in use")

    def learn(self, pod_uid: str, address: str) -> bool:
        """Record an address a pod already holds; False if it is not ours to track."""
        try:
            parsed = ipaddress.IPv4Address(address)
        except ValueError:
            return False
        if parsed not in self.network or self._holders.get(parsed, pod_uid) != pod_uid:
            return False

        self.release(pod_uid)
        self._take(pod_uid, parsed)
        return True

    def release(self, pod_uid: str) -> None:
        """Free the pod's address, if it holds one."""
        address = self._by_pod.pop(pod_uid, None)
        if address is not None:
            del self._holders[address]

    def _take(self, pod_uid: str, address: ipaddress.IPv4Address) -> None:
        self._by_pod[pod_uid] = address
        self._holders[address] = pod_uid
