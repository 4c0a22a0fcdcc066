"""A local copy of one collection of Kubernetes objects, kept current by list and watch.

`Informer.events()` yields every change as `(type, object)`. It lists first (yielding the
differences against what it already held, so a relist after a lost watch emits the deletions
it missed), then watches from the list's resourceVersion, resumes from the last version seen
when a watch ends, lists again when the server answers `Gone`, and backs off on failures.

The cache holds objects without `metadata.managedFields`: nothing reads them here, and they
are close to half of a pod's size; a `transform` may trim more. With `compact`, it holds
each object as its JSON text (`compact.CompactStore`), and a `summary` function keeps a small
value per object for readers that need one field of every object. With `index_label`, the
cache is also indexed by that label's value, so "every object of one owner" costs the
owner's objects, not the whole cache.
With `keep=False` there is no cache at all: a stream of changes for a consumer that keeps
what it needs itself (after a relist, every object comes again as ADDED).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable, Mapping, MutableMapping
from typing import Any

import structlog

from atoll.core import backoff
from atoll.core.kube import client as kube_client
from atoll.core.kube import compact as compact_store
from atoll.core.kube import errors, resources

KubeObject = kube_client.KubeObject


def object_key(obj: KubeObject) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects."""
    metadata = obj.get("metadata", {})
    namespace = metadata.get("namespace")
    return f"{namespace}/{metadata['name']}" if namespace else str(metadata["name"])


class Informer:
    """List-and-watch of one resource, optionally limited to a namespace and selectors."""

    def __init__(
        self,
        client: kube_client.Client,
        resource: resources.Resource,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        watch_timeout: int = 300,
        index_label: str | None = None,
        keep: bool = True,
        transform: Callable[[KubeObject], KubeObject] | None = None,
        compact: bool = False,
        summary: Callable[[KubeObject], Any] | None = None,
        log_context: dict[str, str] | None = None,
    ) -> None:
        """`log_context`: more key/values for its log lines (the syncer's `vc`, say)."""
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.index_label = index_label
        self.keep = keep
        self._transform = transform
        self._compact = compact
        self._summary = summary
        self.cache: MutableMapping[str, KubeObject] = self._new_cache()
        self.summaries: dict[str, Any] = {}  # key → summary(object), with `summary`
        self._index: dict[str, dict[str, None]] = {}  # label value → keys
        self._labels: dict[str, str] = {}  # key → its label value, to leave the index
        self.synced = asyncio.Event()
        self.healthy = True  # False while lists and watches keep failing
        self.last_error = ""
        self._params: dict[str, str | int] = {}
        if label_selector:
            self._params["labelSelector"] = label_selector
        if field_selector:
            self._params["fieldSelector"] = field_selector
        self._watch_timeout = watch_timeout
        self._log = structlog.get_logger("atoll.informer").bind(
            **(log_context or {}), kind=resource.kind or resource.plural, namespace=namespace
        )

    async def events(self) -> AsyncIterator[tuple[str, KubeObject]]:
        """Every change, forever; cancel the consuming task to stop."""
        path = self.resource.path(self.namespace)
        retry = backoff.Backoff()
        while True:
            try:
                resource_version = ""
                async for change in self._relist(path):
                    if change[0] == "SYNCED":
                        resource_version = change[1]["resourceVersion"]
                        continue
                    yield change
                retry.reset()
                self.healthy, self.last_error = True, ""

                while True:
                    async for event_type, received in self.client.watch(
                        path,
                        resource_version=resource_version,
                        params=self._params,
                        timeout_seconds=self._watch_timeout,
                    ):
                        resource_version = received["metadata"]["resourceVersion"]
                        if event_type == "BOOKMARK":
                            continue
                        obj = self._trimmed(received)
                        self._remember(event_type, obj)
                        yield event_type, obj
            except errors.Gone:
                self._log.debug("watch_expired")
            except errors.ApiError as error:
                self.healthy, self.last_error = False, str(error)
                self._log.warning("watch_failed", error=str(error), status=error.status)
                await retry.sleep()

    def _new_cache(self) -> MutableMapping[str, KubeObject]:
        return compact_store.CompactStore() if self._compact else {}

    async def _relist(self, path: str) -> AsyncIterator[tuple[str, KubeObject]]:
        listing = await self.client.get(path, params=self._params)
        fresh: dict[str, KubeObject] = {}
        for item in listing.get("items") or []:
            item.setdefault("kind", self.resource.kind)
            item.setdefault("apiVersion", self.resource.api_version)
            fresh[object_key(item)] = self._trimmed(item)
        if not self.keep:
            for item in fresh.values():
                yield "ADDED", item
            self.synced.set()
            yield "SYNCED", {"resourceVersion": listing["metadata"]["resourceVersion"]}
            return

        previous, self.cache = self.cache, self._new_cache()
        self._index, self._labels, self.summaries = {}, {}, {}
        for key, item in fresh.items():
            self._store(key, item)
        for key, obj in previous.items():
            if key not in fresh:
                yield "DELETED", obj
        for key, obj in fresh.items():
            known = previous.get(key)
            if known is None:
                yield "ADDED", obj
            elif _version(known) != _version(obj):
                yield "MODIFIED", obj

        self.synced.set()
        yield "SYNCED", {"resourceVersion": listing["metadata"]["resourceVersion"]}

    def observe(self, obj: KubeObject) -> None:
        """Take in the answer of one's own write before its watch event arrives.

        Kept only when newer than the cached copy: resource versions from one API server's
        etcd are increasing integers, and anything else is left to the watch.
        """
        cached = self.cache.get(object_key(obj))
        try:
            newer = cached is None or int(_version(obj)) >= int(_version(cached))  # type: ignore[call-overload]
        except (TypeError, ValueError):
            return
        if newer:
            self._remember("MODIFIED", self._trimmed(obj))

    def _trimmed(self, obj: KubeObject) -> KubeObject:
        obj["metadata"].pop("managedFields", None)
        return self._transform(obj) if self._transform is not None else obj

    def indexed(self, value: str) -> list[KubeObject]:
        """The cached objects whose `index_label` is `value`."""
        return [self.cache[key] for key in self._index.get(value, {})]

    def indexed_summaries(self, value: str) -> list[Any]:
        """The summaries of the cached objects whose `index_label` is `value`."""
        return [self.summaries[key] for key in self._index.get(value, {})]

    def indexed_count(self, value: str) -> int:
        return len(self._index.get(value, {}))

    def _remember(self, event_type: str, obj: KubeObject) -> None:
        if not self.keep:
            return
        key = object_key(obj)
        if key in self.cache:
            self._index_drop(key, self._labels.pop(key, None))
            del self.cache[key]
            self.summaries.pop(key, None)
        if event_type != "DELETED":
            self._store(key, obj)

    def _store(self, key: str, obj: KubeObject) -> None:
        self.cache[key] = obj
        if self._summary is not None:
            self.summaries[key] = self._summary(obj)
        if self.index_label is not None:
            value = (obj["metadata"].get("labels") or {}).get(self.index_label, "")
            self._labels[key] = value = sys.intern(value)  # one string per owner, not per object
            self._index.setdefault(value, {})[key] = None

    def _index_drop(self, key: str, value: str | None) -> None:
        if value is None:
            return
        bucket = self._index.get(value, {})
        bucket.pop(key, None)
        if not bucket:
            self._index.pop(value, None)


def _version(obj: Mapping[str, object]) -> object:
    metadata = obj.get("metadata")
    return metadata.get("resourceVersion") if isinstance(metadata, dict) else None
