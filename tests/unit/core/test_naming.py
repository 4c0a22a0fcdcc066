"""Unit tests for `atoll.core.naming`: control-plane roots, names cut to fit, owner labels."""

from __future__ import annotations

import re

import hypothesis
import pytest
from hypothesis import strategies

from atoll.core import naming

UID = "6f1c3a52-0d8e-4c5b-9a7e-2b1d4f6e8c90"
OTHER_UID = "0b7d2e14-93a1-4f6c-8e25-7c4a9d1b3f08"
ROOT_LIMIT = naming.MAX_NAME - 10

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
DNS_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

# Hypothesis keeps no example database: tests write nothing outside their temporary folders.
PROPERTY = hypothesis.settings(database=None, max_examples=200)


def dns_ish(min_size: int, max_size: int) -> strategies.SearchStrategy[str]:
    """DNS-label-like text of `min_size` to `max_size` characters (alphanumeric at both ends)."""
    return strategies.builds(
        "".join,
        strategies.tuples(
            strategies.sampled_from(DNS_ALPHABET),
            strategies.text(DNS_ALPHABET + "-", min_size=min_size - 2, max_size=max_size - 2),
            strategies.sampled_from(DNS_ALPHABET),
        ),
    )


DNS_ISH = dns_ish(60, 200)


def is_dns_label(text: str) -> bool:
    return len(text) <= naming.MAX_NAME and DNS_LABEL.fullmatch(text) is not None


def is_label_value(text: str) -> bool:
    return len(text) <= naming.MAX_NAME and LABEL_VALUE.fullmatch(text) is not None


def dns_name(length: int, *, fill: str = "a") -> str:
    """A valid DNS name of `length` characters, `fill` repeated between two alphanumerics."""
    return "x" + fill * (length - 2) + "z" if length > 1 else "x"


def test_cluster_root_is_stable() -> None:
    assert naming.cluster_root("team-a", "dev", UID) == naming.cluster_root("team-a", "dev", UID)


def test_cluster_root_of_short_names_is_namespace_name_and_uid_hash() -> None:
    root = naming.cluster_root("team-a", "dev", UID)

    assert root == f"team-a-dev-{naming.short_hash(UID)}"


def test_cluster_root_differs_for_different_uids() -> None:
    first = naming.cluster_root("team-a", "dev", UID)
    second = naming.cluster_root("team-a", "dev", OTHER_UID)

    assert first != second


def test_cluster_root_of_long_names_differs_for_different_uids() -> None:
    namespace, name = dns_name(63), dns_name(190)

    assert naming.cluster_root(namespace, name, UID) != naming.cluster_root(
        namespace, name, OTHER_UID
    )


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        (dns_name(63), dns_name(190)),
        (dns_name(63), dns_name(63)),
        (dns_name(1), dns_name(252)),
        (dns_name(40), dns_name(40, fill="-")),
        (dns_name(30), dns_name(30)),
    ],
    ids=["253-chars", "63-and-63", "1-and-252", "hyphens-inside", "just-over-the-limit"],
)
def test_cluster_root_of_long_names_is_a_dns_label_of_at_most_53_characters(
    namespace: str, name: str
) -> None:
    root = naming.cluster_root(namespace, name, UID)

    assert len(root) <= ROOT_LIMIT
    assert is_dns_label(root), root


@pytest.mark.parametrize(
    "namespace",
    [
        # A cut root keeps the first 42 characters of `<namespace>-<name>-<hash>`.
        "a" * 40 + "b",  # the separator after the namespace is the 42nd character
        "a" * 40 + "--b",  # a run of hyphens ends the head
        "a" * 42 + "-b",  # a hyphen right after the head
    ],
    ids=["separator-at-cut", "double-hyphen-at-cut", "hyphen-after-cut"],
)
def test_cluster_root_cut_on_a_hyphen_is_still_a_dns_label(namespace: str) -> None:
    root = naming.cluster_root(namespace, dns_name(100), UID)

    assert len(root) <= ROOT_LIMIT
    assert is_dns_label(root), root
    assert "--" not in root[-12:], root


def test_cluster_root_of_a_dotted_virtual_cluster_name_is_a_dns_label() -> None:
    root = naming.cluster_root("team-a", "dev.eu-west", UID)

    assert is_dns_label(root), root


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        ("", naming.MAX_NAME),
        ("a", naming.MAX_NAME),
        (dns_name(62), naming.MAX_NAME),
        (dns_name(63), naming.MAX_NAME),
        (dns_name(20), 20),
    ],
    ids=["empty", "one", "62", "exactly-63", "exactly-the-given-limit"],
)
def test_fit_keeps_a_name_within_the_limit(name: str, limit: int) -> None:
    assert naming.fit(name, limit) == name


@pytest.mark.parametrize(
    ("name", "limit"),
    [
        (dns_name(64), naming.MAX_NAME),
        (dns_name(253), naming.MAX_NAME),
        (dns_name(54), ROOT_LIMIT),
        (dns_name(200, fill="-"), naming.MAX_NAME),
        (dns_name(30), 12),
    ],
    ids=["64", "253", "one-over-53", "mostly-hyphens", "smallest-useful-limit"],
)
def test_fit_cuts_a_long_name_to_a_dns_label_within_the_limit(name: str, limit: int) -> None:
    fitted = naming.fit(name, limit)

    assert len(fitted) <= limit
    assert is_dns_label(fitted), fitted


def test_fit_keeps_the_head_of_a_long_name() -> None:
    name = "tenant-namespace-" + dns_name(100)

    assert naming.fit(name).startswith("tenant-namespace-")


def test_fit_tells_apart_long_names_that_differ_only_at_the_end() -> None:
    head = dns_name(100)

    first, second = naming.fit(head + "1"), naming.fit(head + "2")

    assert first != second
    assert len(first) <= naming.MAX_NAME
    assert len(second) <= naming.MAX_NAME


@PROPERTY
@hypothesis.given(first=DNS_ISH, second=DNS_ISH)
def test_fit_maps_distinct_long_names_to_distinct_names(first: str, second: str) -> None:
    hypothesis.assume(first != second)

    assert naming.fit(first) != naming.fit(second)


@PROPERTY
@hypothesis.given(
    head=dns_ish(60, 150),
    first_tail=strategies.text(DNS_ALPHABET, min_size=1, max_size=8),
    second_tail=strategies.text(DNS_ALPHABET, min_size=1, max_size=8),
)
def test_fit_maps_long_names_with_distinct_tails_to_distinct_names(
    head: str, first_tail: str, second_tail: str
) -> None:
    hypothesis.assume(first_tail != second_tail)

    assert naming.fit(head + first_tail) != naming.fit(head + second_tail)


@PROPERTY
@hypothesis.given(name=DNS_ISH, limit=strategies.integers(min_value=12, max_value=63))
def test_fit_output_is_a_dns_label_within_the_limit(name: str, limit: int) -> None:
    fitted = naming.fit(name, limit)

    assert len(fitted) <= limit
    assert is_dns_label(fitted), fitted


@pytest.mark.parametrize(
    ("namespace", "name"),
    [
        ("team-a", "dev"),
        (dns_name(63), dns_name(63)),
        (dns_name(63), "dev.eu-west.cluster-" + dns_name(43)),
    ],
    ids=["short", "longest", "dotted-longest"],
)
def test_owner_labels_values_are_valid_label_values(namespace: str, name: str) -> None:
    labels = naming.owner_labels(namespace, name, UID)

    assert labels == {
        naming.VC_NAMESPACE: namespace,
        naming.VC_NAME: name,
        naming.VC_UID: UID,
        naming.MANAGED_BY: "atoll",
    }
    invalid = {key: value for key, value in labels.items() if not is_label_value(value)}
    assert invalid == {}
