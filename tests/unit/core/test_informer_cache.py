"""Unit tests for the informer's cache bookkeeping: the index by owner.

The list and watch halves talk to the API server and are covered by the integration tests;
here the cache is fed events directly, as the watch loop does.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from atoll.core.kube import client as kube_client
from atoll.core.kube import config, informer, resources

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


def test_shared_strings_store_a_repeated_value_once_and_change_nothing() -> None:
    raw = orjson.dumps(
        {"metadata": {"name": "web-1", "labels": {"app": "web"}}, "spec": {"nodeName": "edge-a-0"}}
    )
    first, second = orjson.loads(raw), orjson.loads(raw)
    assert first["spec"]["nodeName"] is not second["spec"]["nodeName"]

    informer.shared_strings(first)
    informer.shared_strings(second)

    assert first == second == orjson.loads(raw)
    assert first["spec"]["nodeName"] is second["spec"]["nodeName"]
    assert first["metadata"]["labels"]["app"] is second["metadata"]["labels"]["app"]


def test_the_shared_pool_never_outgrows_its_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(informer, "POOL_LIMIT", 10)
    for index in range(100):
        informer.shared_strings({"metadata": {"uid": f"uid-{index}"}})

    assert len(informer._POOL) <= 11
