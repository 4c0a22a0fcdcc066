"""A simulated volume provisioner: folders on this machine as PersistentVolumes.

The local super-cluster has no cloud disks, so a PersistentVolumeClaim would stay Pending
and a StatefulSet with a volume claim template would never start. `VolumeProvisioner` plays
an external provisioner: it makes `atoll-local` the default StorageClass, and for every
Pending claim of that class creates a hostPath PersistentVolume over a folder of its own,
pre-bound to the claim, which the real controller-manager's binder then binds. When a claim
goes, the binder marks its volume Released; the provisioner removes the folder and the
volume. No simulated node ever mounts it: the folder only gives the data a place to be.
"""

from __future__ import annotations

import asyncio
import contextlib
import pathlib
import shutil
from collections.abc import Awaitable, Callable

import structlog

from atoll.core import backoff, naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, informer, resources
from atoll.local.nodesim import nodes, workqueue

KubeObject = kube_client.KubeObject

STORAGE_CLASS = "atoll-local"
PROVISIONER = "atoll.dev/simulated"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"

log = structlog.get_logger("atoll.nodesim.storage")


def storage_class() -> KubeObject:
    """The default StorageClass whose claims this provisioner serves."""
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": STORAGE_CLASS,
            "annotations": {DEFAULT_CLASS: "true"},
            # Public: every tenant of the local super-cluster may use it.
            "labels": {nodes.SIMULATED_LABEL: "true", naming.PUBLIC_LABEL: "true"},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": "Immediate",
    }


def wants_volume(claim: KubeObject) -> bool:
    """A Pending claim of our class that no volume was chosen for yet."""
    spec = claim.get("spec") or {}
    return (
        spec.get("storageClassName") == STORAGE_CLASS
        and not spec.get("volumeName")
        and (claim.get("status") or {}).get("phase", "Pending") == "Pending"
        and not claim["metadata"].get("deletionTimestamp")
        and bool(_request(claim))
    )


def volume_name(claim: KubeObject) -> str:
    """One volume per claim, named after its uid so a retried create cannot make two."""
    return f"pvc-{claim['metadata']['uid']}"


def volume_for(claim: KubeObject, root: pathlib.Path) -> KubeObject:
    """The volume for `claim`: its size and access modes, over the folder `root/<name>`."""
    metadata, spec = claim["metadata"], claim["spec"]
    name = volume_name(claim)
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": name,
            "annotations": {PROVISIONED_BY: PROVISIONER},
            "labels": {nodes.SIMULATED_LABEL: "true"},
        },
        "spec": {
            "capacity": {"storage": _request(claim)},
            "accessModes": list(spec.get("accessModes") or []),
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "storageClassName": STORAGE_CLASS,
            "persistentVolumeReclaimPolicy": "Delete",
            "hostPath": {"path": str(root / name), "type": "DirectoryOrCreate"},
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": metadata["namespace"],
                "name": metadata["name"],
                "uid": metadata["uid"],
            },
        },
    }


def wants_deletion(volume: KubeObject, root: pathlib.Path) -> bool:
    """A volume we made, over a folder of `root`, whose claim is gone and whose data goes."""
    metadata, spec = volume["metadata"], volume.get("spec") or {}
    return (
        (metadata.get("annotations") or {}).get(PROVISIONED_BY) == PROVISIONER
        and (spec.get("hostPath") or {}).get("path") == str(root / metadata["name"])
        and spec.get("persistentVolumeReclaimPolicy") == "Delete"
        and (volume.get("status") or {}).get("phase") == "Released"
        and not metadata.get("deletionTimestamp")
    )


class VolumeProvisioner:
    """Provisions and deletes the volumes of `atoll-local` claims, in folders under `root`."""

    def __init__(
        self,
        client: kube_client.Client,
        writes: asyncio.Semaphore,
        root: pathlib.Path,
        *,
        workers: int = 2,
    ) -> None:
        # Absolute: the path is written into each volume, which outlives any working folder.
        self.root = root.absolute()
        self._client = client
        self._writes = writes
        self._workers = workers
        # Claim keys hold a '/', volume keys never do: one table serves both queues.
        self._retries: dict[str, backoff.Backoff] = {}
        self._claims = informer.Informer(client, resources.PVCS)
        self._volumes = informer.Informer(client, resources.PVS)

    async def run(self) -> None:
        """Ensure the StorageClass, then watch claims and volumes until cancelled."""
        try:
            self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            # The nodes and pods run on without volumes rather than stop with them.
            log.error("volumes_folder_unusable", path=str(self.root), error=str(error))
            return
        await self._ensure_storage_class()

        claim_queue, volume_queue = workqueue.KeyQueue(), workqueue.KeyQueue()
        async with asyncio.TaskGroup() as group:
            group.create_task(self._watch(self._claims, claim_queue, wants_volume))
            group.create_task(
                self._watch(self._volumes, volume_queue, lambda obj: wants_deletion(obj, self.root))
            )
            for _ in range(self._workers):
                group.create_task(self._work(claim_queue, self._provision))
                group.create_task(self._work(volume_queue, self._delete))

    async def _ensure_storage_class(self) -> None:
        # Created only when missing: whoever changed an existing one meant it.
        retry = backoff.Backoff()
        while True:
            try:
                async with self._writes:
                    await self._client.create(resources.STORAGECLASSES.path(), storage_class())
                log.info("storage_class_created", kind="StorageClass", name=STORAGE_CLASS)
            except errors.AlreadyExists:
                log.debug("storage_class_kept", kind="StorageClass", name=STORAGE_CLASS)
            except errors.ApiError as error:
                if errors.is_retryable(error):
                    await retry.sleep()
                    continue
                log.warning("storage_class_not_created", error=str(error), status=error.status)
            return

    async def _provision(self, key: str) -> None:
        claim = self._claims.cache.get(key)
        if claim is None or not wants_volume(claim):
            return
        name = volume_name(claim)
        if name in self._volumes.cache:
            return  # Provisioned already; binding is the controller-manager's part.

        metadata = claim["metadata"]
        claim_log = log.bind(
            kind="PersistentVolumeClaim", namespace=metadata["namespace"], name=metadata["name"]
        )
        # The folder comes first, so no volume ever names a folder that is not there.
        (self.root / name).mkdir(mode=0o700, exist_ok=True)
        try:
            async with self._writes:
                await self._client.create(resources.PVS.path(), volume_for(claim, self.root))
        except errors.AlreadyExists:
            claim_log.debug("volume_exists", volume=name)
            return
        claim_log.debug("volume_provisioned", volume=name)

    async def _delete(self, key: str) -> None:
        volume = self._volumes.cache.get(key)
        if volume is None or not wants_deletion(volume, self.root):
            return
        metadata = volume["metadata"]
        volume_log = log.bind(kind="PersistentVolume", name=metadata["name"])

        # The data goes before the volume: a failure here leaves the volume to retry with.
        await asyncio.to_thread(_remove_folder, self.root / metadata["name"])
        async with self._writes:
            await self._client.delete(
                resources.PVS.path(name=metadata["name"]), uid=metadata["uid"]
            )
        volume_log.debug("volume_deleted")

    async def _watch(
        self,
        source: informer.Informer,
        queue: workqueue.KeyQueue,
        wanted: Callable[[KubeObject], bool],
    ) -> None:
        async for event_type, obj in source.events():
            key = informer.object_key(obj)
            if event_type == "DELETED":
                self._retries.pop(key, None)
            elif wanted(obj):
                queue.add(key)

    async def _work(
        self, queue: workqueue.KeyQueue, sync: Callable[[str], Awaitable[None]]
    ) -> None:
        while True:
            key = await queue.get()
            try:
                await sync(key)
            except (errors.NotFound, errors.Conflict) as error:
                # Gone or changed since it was read: a newer watch event follows.
                log.debug("storage_write_skipped", key=key, reason=type(error).__name__)
            except errors.ApiError as error:
                if errors.is_retryable(error):
                    self._retry(queue, key, error)
                    continue
                log.warning("storage_write_failed", key=key, error=str(error), status=error.status)
            except OSError as error:
                # A folder that cannot be made or removed is this machine's problem: say so.
                log.warning("storage_folder_failed", key=key, error=str(error))
                self._retry(queue, key, error)
                continue
            except Exception:
                # One odd claim or volume must not stop the work on every other one.
                log.exception("storage_sync_crashed", key=key)
            finally:
                queue.done(key)
            self._retries.pop(key, None)

    def _retry(self, queue: workqueue.KeyQueue, key: str, error: Exception) -> None:
        delay = self._retries.setdefault(key, backoff.Backoff()).next_delay()
        log.debug("storage_retry", key=key, error=str(error), delay=round(delay, 2))
        queue.add_later(key, delay)


def _request(claim: KubeObject) -> str | None:
    requests = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    storage = requests.get("storage")
    return None if storage is None else str(storage)


def _remove_folder(folder: pathlib.Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)
