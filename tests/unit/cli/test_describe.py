"""`atoll describe`'s text: spec summary, status, conditions, pools with quota, Events."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from atoll.cli import describe

NOW = datetime.datetime(2030, 5, 1, 12, 0, 0, tzinfo=datetime.UTC)


def vc(**status: Any) -> dict[str, Any]:
    return {
        "metadata": {
            "name": "shop",
            "namespace": "team-a",
            "uid": "1234",
            "generation": 3,
            "creationTimestamp": "2030-05-01T11:00:00Z",
        },
        "spec": {
            "nodePools": [
                {"name": "edge-a", "quota": {"pods": 5}},
                {"name": "cloud", "dedicated": True},
            ],
            "defaultNodePool": "edge-a",
            "autonomy": {"unlimited": True},
            "paused": False,
        },
        "status": status,
    }


def event(reason: str, at: str, count: int = 1, kind: str = "Normal") -> dict[str, Any]:
    return {
        "metadata": {"name": f"shop.{reason}"},
        "type": kind,
        "reason": reason,
        "message": f"{reason} happened",
        "source": {"component": "atoll-operator"},
        "lastTimestamp": at,
        "count": count,
    }


def section(lines: list[str], title: str) -> list[str]:
    """The lines of one section: its title line and the indented lines below it."""
    start = next(index for index, line in enumerate(lines) if line.startswith(f"{title}:"))
    end = next(
        (
            index
            for index in range(start + 1, len(lines))
            if lines[index] and not lines[index].startswith(" ")
        ),
        len(lines),
    )
    return lines[start:end]


RUNNING = vc(
    phase="Running",
    version="v1.37.2",
    observedGeneration=3,
    controlPlaneEndpoint="https://127.0.0.1:40001",
    kubeconfigSecretRef={"name": "shop-kubeconfig", "key": "value"},
    conditions=[
        {
            "type": "Ready",
            "status": "True",
            "reason": "Running",
            "message": "the control plane is serving",
            "lastTransitionTime": "2030-05-01T11:58:00Z",
        }
    ],
    nodePools=[
        {
            "name": "edge-a",
            "type": "Edge",
            "nodesReady": 1,
            "nodesTotal": 2,
            "pods": 3,
            "quota": {"hard": {"pods": "5"}, "used": {"pods": "3"}},
        },
        {"name": "cloud", "type": "Cloud", "nodesReady": 1, "nodesTotal": 1, "pods": 0},
    ],
    syncedObjects={"Pod": 3, "ConfigMap": 7},
)


def test_a_running_cluster_shows_every_section() -> None:
    lines = describe.render(
        RUNNING,
        [event("Running", "2030-05-01T11:58:00Z"), event("Paused", "2030-05-01T11:59:30Z", 3)],
        NOW,
    )

    assert lines[:4] == [
        "Name:       shop",
        "Namespace:  team-a",
        "UID:        1234",
        "Created:    2030-05-01T11:00:00Z (60m ago)",
    ]
    assert "  Node pools:       edge-a (default, quota), cloud (dedicated)" in lines
    assert "  Autonomy:         edge pods stay bound to a dark node without limit" in lines
    assert "  Phase:                Running" in lines
    assert "  Observed generation:  3 of 3" in lines
    assert any("`atoll connect shop -n team-a`" in line for line in section(lines, "Endpoints"))
    assert section(lines, "Conditions")[1:] == [
        "  TYPE    STATUS   REASON    AGE   MESSAGE",
        "  Ready   True     Running   2m    the control plane is serving",
    ]
    assert section(lines, "Node pools")[1:] == [
        "  POOL     TYPE    NODES READY   PODS   QUOTA USED/HARD",
        "  edge-a   Edge    1/2           3      pods 3/5",
        "  cloud    Cloud   1/1           0      -",
    ]
    assert section(lines, "Synced objects")[1:] == [
        "  KIND        COUNT",
        "  ConfigMap   7",
        "  Pod         3",
    ]
    assert section(lines, "Events")[1:] == [
        "  TYPE     REASON    AGE        FROM             MESSAGE",
        "  Normal   Running   2m         atoll-operator   Running happened",
        "  Normal   Paused    30s (x3)   atoll-operator   Paused happened",
    ]


def test_a_fresh_cluster_says_none_where_nothing_is_known_yet() -> None:
    lines = describe.render(vc(), [], NOW)

    assert "  Phase:                Pending" in lines
    assert "  API server:         <none>" in lines
    for title in ("Conditions", "Node pools", "Synced objects", "Events"):
        assert f"{title}:  <none>" in lines


def test_only_the_latest_events_are_kept_oldest_first() -> None:
    events = [
        event("Third", "2030-05-01T11:03:00Z"),
        event("First", "2030-05-01T11:01:00Z"),
        event("Second", "2030-05-01T11:02:00Z"),
    ]

    assert [item["reason"] for item in describe.latest(events, 2)] == ["Second", "Third"]
    assert describe.latest(events, 0) == []


@pytest.mark.parametrize(
    ("timestamp", "shown"),
    [
        ("2030-05-01T11:59:15Z", "45s"),
        ("2030-05-01T11:48:00Z", "12m"),
        ("2030-05-01T07:00:00Z", "5h"),
        ("2030-04-28T12:00:00Z", "3d"),
        ("2030-05-01T12:00:05Z", "0s"),
        (None, "<unknown>"),
    ],
)
def test_ages_read_like_kubectl(timestamp: str | None, shown: str) -> None:
    assert describe.age(timestamp, NOW) == shown
