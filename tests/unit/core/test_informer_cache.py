"""Unit tests for the informer's cache bookkeeping: the index by owner, compact caches.

The list and watch halves talk to the API server and are covered by the integration tests;
here the cache is fed events directly, as the watch loop does.
"""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson

from atoll.core.kube import client as kube_client
from atoll.core.kube import compact, config, informer, resources

OWNER = "atoll.dev/vc-uid"


def tracked() -> informer.Informer:
    access = config.ClusterAccess(server="https://127.0.0.1:1", ca_pem=b"", token="unused")
    return informer.Informer(kube_client.Client(access), resources.PODS, index_label=OWNER)


def pod(name: str, owner: str | None, version: str = "1") -> dict[str, Any]:
    labels = {OWNER: owner} if owner else {}
    return {
        "metadata": {"name": name, "namespace": "ns", "labels": labels, "resourceVersion": version}
    }


def names(objects: list[dict[str, Any]]) -> list[str]:
    return sorted(item["metadata"]["name"] for item in objects)


def test_the_index_follows_adds_moves_and_deletes() -> None:
    source = tracked()
    source._remember("ADDED", pod("a", "one"))
    source._remember("ADDED", pod("b", "one"))
    source._remember("ADDED", pod("c", "two"))
    assert names(source.indexed("one")) == ["a", "b"]

    source._remember("MODIFIED", pod("b", "two", "2"))
    source._remember("DELETED", pod("c", "two"))

    assert names(source.indexed("one")) == ["a"]
    assert names(source.indexed("two")) == ["b"]
    assert source.indexed("three") == []
    assert sorted(source.cache) == ["ns/a", "ns/b"]


def test_observed_writes_are_trimmed_and_transformed_like_watched_ones() -> None:
    def without_spec(obj: dict[str, Any]) -> dict[str, Any]:
        obj.pop("spec", None)
        return obj

    access = config.ClusterAccess(server="https://127.0.0.1:1", ca_pem=b"", token="unused")
    source = informer.Informer(kube_client.Client(access), resources.PODS, transform=without_spec)
    written = pod("a", "one", "5") | {"spec": {"containers": []}}
    written["metadata"]["managedFields"] = [{"manager": "atoll"}]

    source.observe(written)
    source.observe(pod("a", "one", "4"))  # older than the cached copy: ignored

    assert source.cache["ns/a"]["metadata"]["resourceVersion"] == "5"
    assert "spec" not in source.cache["ns/a"]
    assert "managedFields" not in source.cache["ns/a"]["metadata"]


def test_an_informer_that_keeps_nothing_holds_no_object() -> None:
    access = config.ClusterAccess(server="https://127.0.0.1:1", ca_pem=b"", token="unused")
    source = informer.Informer(kube_client.Client(access), resources.EVENTS, keep=False)

    source._remember("ADDED", pod("a", "one"))
    source.observe(pod("b", "one"))

    assert source.cache == {}


def test_a_compact_cache_hands_out_copies_and_keeps_index_and_summaries_current() -> None:
    access = config.ClusterAccess(server="https://127.0.0.1:1", ca_pem=b"", token="unused")
    source = informer.Informer(
        kube_client.Client(access),
        resources.PODS,
        index_label=OWNER,
        compact=True,
        summary=lambda obj: obj["metadata"]["resourceVersion"],
    )
    source._remember("ADDED", pod("a", "one"))
    source._remember("ADDED", pod("b", "one"))

    read = source.cache["ns/a"]
    read["metadata"]["labels"][OWNER] = "changed by a reader"
    assert source.cache["ns/a"] == pod("a", "one")
    assert isinstance(source.cache, compact.CompactStore)

    source._remember("MODIFIED", pod("a", "two", "7"))
    source._remember("DELETED", pod("b", "one"))

    assert names(source.indexed("two")) == ["a"]
    assert source.indexed_count("one") == 0
    assert source.indexed_summaries("two") == ["7"]
    assert source.summaries == {"ns/a": "7"}
    assert dict(source.cache) == {"ns/a": pod("a", "two", "7")}


def test_a_compact_store_holds_the_text_not_the_encoders_buffer() -> None:
    store = compact.CompactStore()
    body = pod("a", "one") | {"spec": {"containers": [{"name": "main", "image": "x" * 2000}]}}
    text_size = len(orjson.dumps(body))

    tracemalloc.start()
    try:
        for index in range(100):
            store[f"ns/p{index}"] = body
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    # The encoder's own output keeps a buffer many times its text; the store keeps the text.
    assert held < 100 * (text_size + 256)
    assert store["ns/p7"] == body
    assert len(store) == 100
    del store["ns/p7"]
    assert "ns/p7" not in store
