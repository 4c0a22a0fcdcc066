"""A cache of Kubernetes objects held as their JSON text, decoded when read.

A decoded pod is a tree of some hundred dicts, lists and strings: five to eight KiB of
Python objects for two or three KiB of JSON. Informers of kinds that come by the thousand
(pods, above all) keep each object as the bytes it encodes to instead, and every read
decodes a fresh copy (some microseconds with orjson). A reader may therefore change what it
got without touching the cache. Readers that would decode every object to read one field
ask the informer for a summary instead (`Informer(summary=...)`).
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from typing import Any

import orjson

KubeObject = dict[str, Any]


class CompactStore(MutableMapping[str, KubeObject]):
    """`key → object`, each stored as its JSON text."""

    def __init__(self) -> None:
        self._encoded: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> KubeObject:
        decoded: KubeObject = orjson.loads(self._encoded[key])
        return decoded

    def __setitem__(self, key: str, obj: KubeObject) -> None:
        # orjson's buffer is larger than its output; a copy holds exactly the text.
        self._encoded[key] = memoryview(orjson.dumps(obj)).tobytes()

    def __delitem__(self, key: str) -> None:
        del self._encoded[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._encoded)

    def __len__(self) -> int:
        return len(self._encoded)

    def __contains__(self, key: object) -> bool:
        return key in self._encoded
