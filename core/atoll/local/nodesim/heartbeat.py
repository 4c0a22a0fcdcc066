"""The heartbeat of a simulated node: registration, Lease renewal and status posts.

One `NodeAgent` per node plays the part of the kubelet that keeps a node alive: it registers
the Node (adopting it after a restart), renews the node's Lease every `lease_interval` and
posts its status every `status_interval`, as long as the node's pool is connected
(`control.Links`). When the link comes back, or the API server answers again after a
failure, it posts status and Lease at once so the node lifecycle controller sees it Ready.
"""

from __future__ import annotations

import asyncio
import datetime
import random
import time

import structlog

from atoll.core import backoff
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.local.nodesim import clock, control, layout, nodes

log = structlog.get_logger("atoll.nodesim.heartbeat")


class NodeAgent:
    """The heartbeat of one simulated node: registration, Lease renewal, status posts."""

    def __init__(
        self,
        client: kube_client.Client,
        node: layout.SimNode,
        links: control.Links,
        writes: asyncio.Semaphore,
        *,
        pool_label: str = layout.POOL_LABEL,
        lease_interval: float = 10.0,
        status_interval: float = 60.0,
    ) -> None:
        self.node = node
        self._client = client
        self._links = links
        self._writes = writes
        self._pool_label = pool_label
        self._lease_interval = lease_interval
        self._status_interval = status_interval
        self._uid: str | None = None
        self._status_due = 0.0
        self._failing = False
        self._log = log.bind(node=node.name, pool=node.pool)

    async def run(self) -> None:
        """Beat while the pool is connected, pause while it is cut off; cancel to stop."""
        retry = backoff.Backoff(ceiling=self._lease_interval)
        while True:
            # Taken before the link is checked, so a reconnect during the beat is not missed.
            reconnect = self._links.next_reconnect(self.node.pool)
            delay = _jittered(self._lease_interval)

            if self._links.is_connected(self.node.pool):
                try:
                    await self._beat()
                except errors.ApiError as error:
                    self._failed(error)
                    delay = retry.next_delay()
                else:
                    self._recovered()
                    retry.reset()

            if await _woken(reconnect, delay):
                self._log.debug("node_reconnected")
                self._status_due = 0.0

    async def _beat(self) -> None:
        if self._uid is None:
            await self._register()

        moment = clock.now()
        if time.monotonic() >= self._status_due:
            await self._post_status(moment)
            self._status_due = time.monotonic() + self._status_interval
        await self._renew_lease(moment)

    async def _register(self) -> None:
        path = resources.NODES.path()
        body = nodes.node_object(self.node, self._pool_label)
        try:
            async with self._writes:
                registered = await self._client.create(path, body)
            self._log.info("node_registered")
        except errors.AlreadyExists:
            # A restart keeps the Node, as a rebooted machine does; only its labels are ours.
            labels = {"metadata": {"labels": body["metadata"]["labels"]}}
            async with self._writes:
                registered = await self._client.patch(
                    resources.NODES.path(name=self.node.name), labels
                )
            self._log.debug("node_adopted")
        self._uid = registered["metadata"]["uid"]
        self._status_due = 0.0

    async def _post_status(self, moment: datetime.datetime) -> None:
        try:
            current = await self._client.get(resources.NODES.path(name=self.node.name))
        except errors.NotFound:
            # Someone deleted the Node: register it again on the next beat.
            self._uid = None
            raise
        self._uid = current["metadata"]["uid"]

        previous = (current.get("status") or {}).get("conditions") or []
        status = nodes.node_status(self.node, moment, previous)
        path = resources.NODES.path(name=self.node.name, subresource="status")
        async with self._writes:
            await self._client.patch(path, {"status": status})
        self._log.debug("node_status_posted")

    async def _renew_lease(self, moment: datetime.datetime) -> None:
        if self._uid is None:
            return
        path = resources.LEASES.path(nodes.LEASE_NAMESPACE, self.node.name)
        try:
            async with self._writes:
                await self._client.patch(
                    path, nodes.lease_renewal(self.node.name, self._uid, moment)
                )
        except errors.NotFound:
            lease = nodes.lease_object(self.node.name, self._uid, moment)
            async with self._writes:
                await self._client.create(resources.LEASES.path(nodes.LEASE_NAMESPACE), lease)
            self._log.debug("lease_created")

    def _failed(self, error: errors.ApiError) -> None:
        # The next successful beat posts status too: the node may look NotReady by then.
        self._status_due = 0.0
        if self._failing:
            self._log.debug("heartbeat_failed", error=str(error), status=error.status)
            return
        self._failing = True
        self._log.warning("heartbeat_failed", error=str(error), status=error.status)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            self._log.info("heartbeat_restored")


def _jittered(interval: float) -> float:
    # Thousands of nodes registered together must not renew their leases in one burst.
    return interval * random.uniform(0.9, 1.0)  # noqa: S311 - jitter, not cryptography


async def _woken(event: asyncio.Event, delay: float) -> bool:
    """Wait up to `delay` seconds for `event`; True if it was set."""
    try:
        async with asyncio.timeout(delay):
            await event.wait()
    except TimeoutError:
        return False
    return True
