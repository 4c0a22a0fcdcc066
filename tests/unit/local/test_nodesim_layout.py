"""Unit tests for `atoll.local.nodesim.layout`: pool layouts, their errors and node names."""

from __future__ import annotations

import re

import pytest

from atoll.local.nodesim import layout


def pool(name: str, nodes: int, *, edge: bool) -> layout.PoolSpec:
    return layout.PoolSpec(name=name, nodes=nodes, edge=edge)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "cloud:1,hangzhou:3,shanghai:2",
            (
                pool("cloud", 1, edge=False),
                pool("hangzhou", 3, edge=True),
                pool("shanghai", 2, edge=True),
            ),
        ),
        ("gpu:2:cloud", (pool("gpu", 2, edge=False),)),
        ("cloud:1:edge", (pool("cloud", 1, edge=True),)),
        (" edge-a : 0 , b1:200:EDGE ", (pool("edge-a", 0, edge=True), pool("b1", 200, edge=True))),
        ("x:1,", (pool("x", 1, edge=True),)),
    ],
)
def test_parse_pools_reads_names_counts_and_kinds(
    text: str, expected: tuple[layout.PoolSpec, ...]
) -> None:
    assert layout.parse_pools(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "no pools given"),
        (" , ", "no pools given"),
        ("Edge_A:2", "pool 'Edge_A': names are lowercase letters, digits and '-'"),
        ("-edge:2", "pool '-edge': names are lowercase letters"),
        ("edge-:2", "pool 'edge-': names are lowercase letters"),
        ("a" * 41 + ":1", "names are at most 40 characters"),
        (":2", "the pool needs a name"),
        ("edge", "write 'name:count' or 'name:count:edge|cloud'"),
        ("edge:1:edge:x", "write 'name:count' or 'name:count:edge|cloud'"),
        ("edge:two", "pool 'edge': node count 'two' is not a whole number"),
        ("edge:201", "pool 'edge': node count 201 is out of range 0..200"),
        ("edge:-1", "node count -1 is out of range 0..200"),
        ("edge:1:fog", "pool 'edge': kind 'fog' must be 'edge' or 'cloud'"),
        ("a:1,b:1,a:2", "pool 'a' is listed twice"),
        (",".join(f"p{number}:200" for number in range(11)), "at most 2048"),
    ],
)
def test_parse_pools_says_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        layout.parse_pools(text)


@pytest.mark.parametrize("text", ["cloud:1,edge-a:2,edge-b:2", "gpu:2:cloud,cloud:1:edge,site-9:0"])
def test_format_pools_is_the_inverse_of_parse_pools(text: str) -> None:
    pools = layout.parse_pools(text)

    assert layout.format_pools(pools) == text
    assert layout.parse_pools(layout.format_pools(pools)) == pools


def test_node_names_number_the_nodes_of_a_pool() -> None:
    assert layout.node_names(pool("hangzhou", 3, edge=True)) == [
        "hangzhou-0",
        "hangzhou-1",
        "hangzhou-2",
    ]
    assert layout.node_names(pool("empty", 0, edge=True)) == []


def test_sim_nodes_are_numbered_across_pools_in_layout_order() -> None:
    nodes = layout.sim_nodes(layout.parse_pools("cloud:1,edge-a:2"))

    assert nodes == (
        layout.SimNode(name="cloud-0", pool="cloud", edge=False, index=0),
        layout.SimNode(name="edge-a-0", pool="edge-a", edge=True, index=1),
        layout.SimNode(name="edge-a-1", pool="edge-a", edge=True, index=2),
    )


def test_default_layout_has_one_cloud_pool_and_two_edge_pools() -> None:
    assert layout.format_pools(layout.DEFAULT_POOLS) == "cloud:1,edge-a:2,edge-b:2"
    assert [spec.edge for spec in layout.DEFAULT_POOLS] == [False, True, True]
    assert layout.POOL_LABEL == "apps.openyurt.io/nodepool"
