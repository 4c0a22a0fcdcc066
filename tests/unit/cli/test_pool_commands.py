"""`atoll pool`: usage errors, pools summed up from nodes and pods, links cut and restored."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator
from typing import Any

import pytest
from click import testing

from atoll.cli import main
from atoll.local import cluster, state
from atoll.local.nodesim import control, layout

KUBEEDGE_LABEL = "apps.kubeedge.io/belonging-to"


def node(name: str, pool: str | None, *, edge: bool = False, ready: str = "True") -> dict[str, Any]:
    labels = {"openyurt.io/is-edge-worker": "true" if edge else "false"}
    if pool is not None:
        labels[layout.POOL_LABEL] = pool
    return {
        "metadata": {"name": name, "labels": labels},
        "status": {"conditions": [{"type": "Ready", "status": ready}]},
    }


def pod(node_name: str | None, phase: str = "Running") -> dict[str, Any]:
    return {"spec": {"nodeName": node_name} if node_name else {}, "status": {"phase": phase}}


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["pool", "disconnect"], "Missing argument 'POOL'"),
        (["pool", "reconnect"], "Missing argument 'POOL'"),
        (["pool", "disconnect", "edge-a", "edge-b"], "unexpected extra argument"),
        (["pool", "list", "-o", "xml"], "'xml' is not one of"),
        (["pool", "cut", "edge-a"], "No such command 'cut'"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(arguments: list[str], complaint: str) -> None:
    result = testing.CliRunner().invoke(main.cli, arguments)

    assert result.exit_code == 2
    assert complaint in result.output


def test_pools_count_nodes_ready_nodes_and_live_pods() -> None:
    nodes = [
        node("cloud-0", "cloud"),
        node("edge-a-0", "edge-a", edge=True),
        node("edge-a-1", "edge-a", edge=True, ready="Unknown"),
        node("loose-0", None),
    ]
    pods = [
        pod("edge-a-0"),
        pod("edge-a-1", "Pending"),
        pod("edge-a-1", "Succeeded"),
        pod("cloud-0", "Failed"),
        pod("loose-0"),
        pod(None, "Pending"),
    ]

    reports = cluster.summarize_pools(nodes, pods, disconnected=frozenset({"edge-a"}))

    assert reports == [
        cluster.PoolReport("cloud", "Cloud", nodes=1, ready=1, connected=True, pods=0),
        cluster.PoolReport("edge-a", "Edge", nodes=2, ready=1, connected=False, pods=2),
    ]


def test_links_are_unknown_off_the_local_super_cluster() -> None:
    reports = cluster.summarize_pools([node("cloud-0", "cloud")], [])

    assert [report.connected for report in reports] == [None]


def test_another_pool_label_groups_the_nodes() -> None:
    site = node("site-0", None, edge=True)
    site["metadata"]["labels"][KUBEEDGE_LABEL] = "hangzhou"

    reports = cluster.summarize_pools(
        [site, node("cloud-0", "cloud")], [], pool_label=KUBEEDGE_LABEL
    )

    assert [(report.name, report.type) for report in reports] == [("hangzhou", "Edge")]


@pytest.fixture
def folder(tmp_path: pathlib.Path) -> state.StateDir:
    """A state folder whose supervisor last ran the default layout; not running."""
    result = state.StateDir(tmp_path)
    result.prepare()
    result.write_status(state.ClusterStatus(phase="ready", pools="cloud:1,edge-a:2,edge-b:2"))
    return result


@pytest.fixture
def running(folder: state.StateDir) -> Iterator[state.StateDir]:
    """The same folder with its lock held, as a running supervisor holds it."""
    handle = state.acquire_lock(folder)
    try:
        yield folder
    finally:
        handle.close()


def test_disconnect_and_reconnect_are_idempotent(running: state.StateDir) -> None:
    assert cluster.set_pool_link(running, "edge-b", connected=False) is True
    assert cluster.set_pool_link(running, "edge-b", connected=False) is False
    assert cluster.set_pool_link(running, "edge-a", connected=False) is True
    assert control.read_control(running.nodesim_control) == {"edge-a", "edge-b"}

    assert cluster.set_pool_link(running, "edge-b", connected=True) is True
    assert cluster.set_pool_link(running, "edge-b", connected=True) is False
    assert cluster.disconnected_pools(running) == {"edge-a"}


def test_an_unknown_pool_is_refused_with_the_known_ones(running: state.StateDir) -> None:
    with pytest.raises(cluster.UnknownPool, match="cloud, edge-a, edge-b") as refused:
        cluster.set_pool_link(running, "nowhere", connected=False)

    assert refused.value.known == ("cloud", "edge-a", "edge-b")
    assert not running.nodesim_control.exists()


def test_cutting_needs_a_running_cluster_and_restoring_does_not(folder: state.StateDir) -> None:
    control.write_control(folder.nodesim_control, ["edge-a"])

    with pytest.raises(cluster.NotRunning, match="atoll up"):
        cluster.set_pool_link(folder, "edge-b", connected=False)
    assert cluster.set_pool_link(folder, "edge-a", connected=True) is True

    assert cluster.disconnected_pools(folder) == frozenset()


def test_a_folder_without_a_cluster_has_no_pools(tmp_path: pathlib.Path) -> None:
    with pytest.raises(cluster.NotRunning, match="atoll up"):
        cluster.set_pool_link(state.StateDir(tmp_path), "edge-a", connected=True)


def test_a_nodepool_object_decides_the_type_over_node_labels() -> None:
    nodes = [node("cloud-0", "cloud"), node("edge-a-0", "edge-a", edge=True), node("b-0", "b")]

    reports = cluster.summarize_pools(nodes, [], pool_types={"cloud": "Edge", "edge-a": "Cloud"})

    assert [(report.name, report.type) for report in reports] == [
        ("b", "Cloud"),
        ("cloud", "Edge"),
        ("edge-a", "Cloud"),
    ]
