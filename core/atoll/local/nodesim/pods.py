"""The pod half of the simulated kubelets: run, re-condition and finish the pods they host.

One informer watches every bound pod. Each change to a pod on one of our nodes queues its
key; workers take keys, read the newest state from the informer's cache and do the step
`podstatus.plan` names, unless the node's pool is cut off (`control.Links`), in which case
the pod is left exactly as it is until `rescan` is called at reconnection. Pod addresses
come from a per-node `addresses.PodAddresses`, which learns the addresses pods already hold
so a restarted simulator hands out no address twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, MutableMapping

import structlog

from atoll.core import backoff
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources
from atoll.local.nodesim import addresses, clock, control, layout, podstatus, workqueue

KubeObject = kube_client.KubeObject

log = structlog.get_logger("atoll.nodesim.pods")


class PodRunner:
    """Plays the pod lifecycle of every simulated node."""

    def __init__(
        self,
        client: kube_client.Client,
        nodes: Iterable[layout.SimNode],
        links: control.Links,
        writes: asyncio.Semaphore,
        *,
        workers: int = 32,
    ) -> None:
        self._client = client
        self._nodes = {node.name: node for node in nodes}
        self._addresses = {
            node.name: addresses.PodAddresses(addresses.pod_network(node.index))
            for node in self._nodes.values()
        }
        self._links = links
        self._writes = writes
        self._workers = workers
        self._queue = workqueue.KeyQueue()
        self._retries: dict[str, backoff.Backoff] = {}
        self._informer = informer.Informer(client, resources.PODS, field_selector="spec.nodeName!=")
        self._learned_from: MutableMapping[str, KubeObject] | None = None

    async def run(self) -> None:
        """Watch pods and work on them until cancelled."""
        async with asyncio.TaskGroup() as group:
            for _ in range(self._workers):
                group.create_task(self._work())
            group.create_task(self._watch())

    def rescan(self, pools: frozenset[str]) -> None:
        """Look again at every pod on the nodes of `pools`, e.g. after their link returns."""
        for key, pod in self._informer.cache.items():
            node = self._nodes.get(_node_name(pod))
            if node is not None and node.pool in pools:
                self._queue.add(key)

    async def _watch(self) -> None:
        async for event_type, pod in self._informer.events():
            # The informer swaps in a fresh cache at every list; learn all the addresses in
            # it before any worker hands out a new one.
            if self._informer.cache is not self._learned_from:
                for cached in self._informer.cache.values():
                    self._learn(cached)
                self._learned_from = self._informer.cache
            self._observe(event_type, pod)

    def _observe(self, event_type: str, pod: KubeObject) -> None:
        pool = self._addresses.get(_node_name(pod))
        if pool is None:
            return
        key = informer.object_key(pod)

        if event_type == "DELETED":
            pool.release(pod["metadata"]["uid"])
            self._retries.pop(key, None)
            return

        self._learn(pod)
        if podstatus.plan(pod) != "none":
            self._queue.add(key)

    def _learn(self, pod: KubeObject) -> None:
        pool = self._addresses.get(_node_name(pod))
        pod_ip = (pod.get("status") or {}).get("podIP")
        if pool is not None and pod_ip and not pod["spec"].get("hostNetwork"):
            pool.learn(pod["metadata"]["uid"], pod_ip)

    async def _work(self) -> None:
        await workqueue.serve(self._queue, self._sync, what="pod")

    async def _sync(self, key: str) -> None:
        pod = self._informer.cache.get(key)
        if pod is None:
            return
        node = self._nodes.get(_node_name(pod))
        if node is None or not self._links.is_connected(node.pool):
            return

        metadata = pod["metadata"]
        pod_log = log.bind(namespace=metadata.get("namespace"), name=metadata["name"])
        pod_log = pod_log.bind(node=node.name, pool=node.pool)
        try:
            await self._step(pod, node, pod_log)
        except (errors.NotFound, errors.Conflict) as error:
            # Gone, replaced, or changed since it was read: a newer watch event follows.
            pod_log.debug("pod_write_skipped", reason=type(error).__name__)
        except errors.ApiError as error:
            if errors.is_retryable(error):
                delay = self._retries.setdefault(key, backoff.Backoff()).next_delay()
                pod_log.debug("pod_write_retry", error=str(error), delay=round(delay, 2))
                self._queue.add_later(key, delay)
                return
            pod_log.warning("pod_write_failed", error=str(error), status=error.status)
        except addresses.AddressesExhausted as error:
            pod_log.warning("pod_not_started", error=str(error))
        self._retries.pop(key, None)

    async def _step(
        self, pod: KubeObject, node: layout.SimNode, pod_log: structlog.typing.FilteringBoundLogger
    ) -> None:
        metadata = pod["metadata"]
        namespace, name, uid = metadata["namespace"], metadata["name"], metadata["uid"]
        step = podstatus.plan(pod)

        if step == "delete":
            # The containers "stop" at once, so the deletion completes without a grace period.
            async with self._writes:
                await self._client.delete(
                    resources.PODS.path(namespace, name), uid=uid, grace_period_seconds=0
                )
            pod_log.debug("pod_deleted")
            return

        moment = clock.now()
        if step == "start":
            host_ip = addresses.node_ip(node.index)
            pod_ip = podstatus.pod_address(pod, host_ip, self._addresses[node.name])
            status = podstatus.running_status(pod, host_ip=host_ip, pod_ip=pod_ip, moment=moment)
            pod_log = pod_log.bind(pod_ip=pod_ip)
        elif step == "conditions":
            status = {"conditions": podstatus.pod_conditions(pod, moment)}
        else:
            return

        # The resourceVersion makes the patch fail rather than overwrite conditions (readiness
        # gates) that someone else changed since the cache saw the pod.
        patch = {"metadata": {"resourceVersion": metadata["resourceVersion"]}, "status": status}
        async with self._writes:
            await self._client.patch(resources.PODS.path(namespace, name, "status"), patch)
        pod_log.debug("pod_status_posted", step=step)


def _node_name(pod: KubeObject) -> str:
    return str((pod.get("spec") or {}).get("nodeName") or "")
