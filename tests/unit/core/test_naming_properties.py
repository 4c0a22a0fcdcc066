"""Properties of every name atoll derives for the super-cluster, over all valid inputs.

Tenant identities (VirtualCluster namespace, name and uid) and tenant names are drawn in every
valid DNS-1123 form and length, from one character to the limit, hyphen runs included. The
names atoll derives from them must be valid where they are used, within their limits, the
same each time, and never shared by two different inputs. Pairs are drawn both at random and
close together (one namespace apart, one uid apart, a dot where the other has a hyphen),
where a collision would hide.
"""

from __future__ import annotations

import re
import uuid

import hypothesis
from hypothesis import strategies

from atoll.core import naming
from atoll.syncer import mapping
from atoll.syncer.pods import tokens

# Hypothesis keeps no example database: tests write nothing outside their temporary folders.
PROPERTY = hypothesis.settings(database=None, max_examples=200, deadline=None)

DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
LABEL_VALUE = re.compile(r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?")
ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyz0123456789"
MAX_SUBDOMAIN = 253
MAX_VC_NAME = 63  # the VirtualCluster CRD caps names at 63: atoll writes them into labels
ROOT_LIMIT = naming.MAX_NAME - 10
SERVER = "https://vc.example:6443"


def is_dns_label(text: str) -> bool:
    return len(text) <= naming.MAX_NAME and DNS_LABEL.fullmatch(text) is not None


def is_dns_subdomain(text: str) -> bool:
    return len(text) <= MAX_SUBDOMAIN and DNS_SUBDOMAIN.fullmatch(text) is not None


def is_label_value(text: str) -> bool:
    return len(text) <= naming.MAX_NAME and LABEL_VALUE.fullmatch(text) is not None


def sizes(max_size: int) -> strategies.SearchStrategy[int]:
    """1 to `max_size`, with the shortest and longest sizes drawn often."""
    return strategies.one_of(
        strategies.integers(min_value=1, max_value=max_size),
        strategies.sampled_from(sorted({1, 2, max_size - 1, max_size} - {0})),
    )


@strategies.composite
def dns_labels_of(draw: strategies.DrawFn, size: int) -> str:
    """A DNS-1123 label of exactly `size` characters (1 to 63), hyphen runs included."""
    edge = strategies.sampled_from(ALPHANUMERIC)
    if size == 1:
        return draw(edge)
    inside = strategies.text(ALPHANUMERIC + "-", min_size=size - 2, max_size=size - 2)
    return draw(edge) + draw(inside) + draw(edge)


@strategies.composite
def dns_subdomains_of(draw: strategies.DrawFn, size: int) -> str:
    """A DNS-1123 subdomain of exactly `size` characters: labels of 1 to 63 joined by dots."""
    labels, room = [], size
    while room > 0:
        # A label ends the name, or leaves room for a dot and at least one more character.
        ends = room <= 2 or (room <= naming.MAX_NAME and draw(strategies.booleans()))
        length = room if ends else draw(strategies.integers(1, min(naming.MAX_NAME, room - 2)))
        labels.append(draw(dns_labels_of(length)))
        room -= length + 1
    return ".".join(labels)


def dns_labels(max_size: int = naming.MAX_NAME) -> strategies.SearchStrategy[str]:
    return sizes(max_size).flatmap(dns_labels_of)


def dns_subdomains(max_size: int = MAX_SUBDOMAIN) -> strategies.SearchStrategy[str]:
    return sizes(max_size).flatmap(dns_subdomains_of)


@strategies.composite
def cut_service_accounts(draw: strategies.DrawFn) -> str:
    """A 253-character service account whose token Secret name is cut right after a `-`/`.`."""
    kept = MAX_SUBDOMAIN - len(tokens.token_secret_name(""))  # what survives the cut
    head = draw(dns_subdomains_of(kept - 1))
    tail = draw(dns_labels_of(MAX_SUBDOMAIN - kept))
    return f"{head}{draw(strategies.sampled_from('-.'))}{tail}"


@strategies.composite
def long_service_account_pairs(draw: strategies.DrawFn) -> tuple[str, str]:
    """Two different service accounts of the longest names, alike but for their last label."""
    head = draw(dns_subdomains_of(MAX_SUBDOMAIN - 13))
    tails = strategies.lists(dns_labels_of(12), min_size=2, max_size=2, unique=True)
    first, second = draw(tails)
    return f"{head}.{first}", f"{head}.{second}"


UIDS = strategies.uuids().map(str)
VC_NAMES = dns_subdomains(MAX_VC_NAME)


@strategies.composite
def tenants(draw: strategies.DrawFn) -> mapping.Tenant:
    return mapping.Tenant(draw(VC_NAMES), draw(dns_labels()), draw(UIDS), SERVER)


@strategies.composite
def near_pairs(
    draw: strategies.DrawFn,
) -> tuple[tuple[mapping.Tenant, str], tuple[mapping.Tenant, str]]:
    """Two different (VirtualCluster, tenant namespace) pairs that look alike."""
    first, namespace = draw(tenants()), draw(dns_labels())
    how = draw(strategies.sampled_from(["other namespace", "other uid", "dot for hyphen", "any"]))
    if how == "other namespace":
        # Long names share a long head, so only the hash of the whole tells them apart.
        other = draw(dns_labels())
        hypothesis.assume(other != namespace)
        return (first, namespace), (first, other)
    if how == "other uid":
        # The same VirtualCluster deleted and created again: a new uid, the same names.
        second = mapping.Tenant(first.vc_name, first.vc_namespace, draw(UIDS), SERVER)
        hypothesis.assume(second.vc_uid != first.vc_uid)
        return (first, namespace), (second, namespace)
    if how == "dot for hyphen":
        # `dev.eu` and `dev-eu` make the same root text: only their uids differ.
        dotted = draw(strategies.sampled_from(["a.b", "dev.eu-west", "x" * 30 + ".y"]))
        pair = [
            mapping.Tenant(name, first.vc_namespace, draw(UIDS), SERVER)
            for name in (dotted, dotted.replace(".", "-"))
        ]
        hypothesis.assume(pair[0].vc_uid != pair[1].vc_uid)
        return (pair[0], namespace), (pair[1], namespace)
    return (first, namespace), (draw(tenants()), draw(dns_labels()))


@PROPERTY
@hypothesis.given(tenant=tenants(), namespace=dns_labels())
def test_super_namespace_is_a_dns_label_of_at_most_63_characters(
    tenant: mapping.Tenant, namespace: str
) -> None:
    super_namespace = mapping.super_namespace(tenant, namespace)

    assert is_dns_label(super_namespace), super_namespace


@PROPERTY
@hypothesis.given(tenant=tenants())
def test_cluster_root_is_a_dns_label_of_at_most_53_characters(tenant: mapping.Tenant) -> None:
    assert len(tenant.root) <= ROOT_LIMIT
    assert is_dns_label(tenant.root), tenant.root


@PROPERTY
@hypothesis.given(tenant=tenants(), namespace=dns_labels())
def test_super_namespace_is_stable(tenant: mapping.Tenant, namespace: str) -> None:
    # A Tenant built again from the same VirtualCluster, with a spec read later.
    again = mapping.Tenant(
        tenant.vc_name, tenant.vc_namespace, tenant.vc_uid, SERVER, spec={"paused": True}
    )

    first = mapping.super_namespace(tenant, namespace)

    assert mapping.super_namespace(tenant, namespace) == first
    assert mapping.super_namespace(again, namespace) == first


@PROPERTY
@hypothesis.given(pairs=near_pairs())
def test_different_tenant_namespaces_never_share_a_super_namespace(
    pairs: tuple[tuple[mapping.Tenant, str], tuple[mapping.Tenant, str]],
) -> None:
    (first, first_namespace), (second, second_namespace) = pairs
    hypothesis.assume(first.vc_uid != second.vc_uid or first_namespace != second_namespace)

    assert mapping.super_namespace(first, first_namespace) != mapping.super_namespace(
        second, second_namespace
    )


@PROPERTY
@hypothesis.given(tenant=tenants(), other=tenants(), namespace=dns_labels())
def test_super_namespace_is_never_a_control_plane_namespace(
    tenant: mapping.Tenant, other: mapping.Tenant, namespace: str
) -> None:
    super_namespace = mapping.super_namespace(tenant, namespace)

    assert super_namespace != tenant.root
    assert super_namespace != other.root


@PROPERTY
@hypothesis.given(
    vc_namespace=dns_labels(20),
    vc_name=dns_labels(20),
    uids=strategies.lists(UIDS, min_size=2, max_size=2, unique=True),
    namespace=dns_labels(10),
)
def test_names_that_shift_the_root_boundary_never_share_a_super_namespace(
    vc_namespace: str, vc_name: str, uids: list[str], namespace: str
) -> None:
    first = mapping.Tenant(vc_name, vc_namespace, uids[0], SERVER)
    second = mapping.Tenant(
        f"{vc_name}-{naming.short_hash(uids[0])}", vc_namespace, uids[1], SERVER
    )
    first_namespace = f"{naming.short_hash(uids[1])}-{namespace}"

    assert mapping.super_namespace(first, first_namespace) != mapping.super_namespace(
        second, namespace
    )


@PROPERTY
@hypothesis.given(tenant=tenants())
def test_owner_labels_are_valid_label_values(tenant: mapping.Tenant) -> None:
    invalid = {key: value for key, value in tenant.labels.items() if not is_label_value(value)}

    assert invalid == {}


@PROPERTY
@hypothesis.given(vc_name=VC_NAMES)
def test_kubeconfig_secret_name_is_a_dns_subdomain(vc_name: str) -> None:
    name = naming.kubeconfig_secret(vc_name)

    assert is_dns_subdomain(name), name


@PROPERTY
@hypothesis.given(
    tenant=tenants(),
    namespace=dns_labels(),
    name=dns_subdomains(),
    forged=strategies.sampled_from([naming.VC_UID, mapping.TENANT_UID, "x.atoll.dev/owner"]),
)
def test_super_metadata_keeps_the_name_maps_the_namespace_and_drops_forged_ownership(
    tenant: mapping.Tenant, namespace: str, name: str, forged: str
) -> None:
    tenant_object = {
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "labels": {forged: "forged", "app": "web"},
            "annotations": {forged: "forged"},
        }
    }

    metadata = mapping.super_metadata(tenant, tenant_object)

    assert metadata["name"] == name
    assert metadata["namespace"] == mapping.super_namespace(tenant, namespace)
    assert metadata["labels"] == {"app": "web", **tenant.labels}
    assert metadata["annotations"].get(forged) != "forged"
    assert mapping.owned_by({"metadata": metadata}, tenant)
    assert mapping.tenant_key_of({"metadata": metadata}) == f"{namespace}/{name}"


@PROPERTY
@hypothesis.given(service_account=dns_subdomains())
def test_token_secret_name_is_at_most_253_characters(service_account: str) -> None:
    assert len(tokens.token_secret_name(service_account)) <= MAX_SUBDOMAIN


@PROPERTY
@hypothesis.given(service_account=strategies.one_of(dns_subdomains(), cut_service_accounts()))
def test_token_secret_name_is_a_dns_subdomain(service_account: str) -> None:
    name = tokens.token_secret_name(service_account)

    assert is_dns_subdomain(name), name


@PROPERTY
@hypothesis.given(
    pair=strategies.one_of(
        strategies.tuples(dns_subdomains(), dns_subdomains()), long_service_account_pairs()
    )
)
def test_token_secret_names_of_different_service_accounts_differ(pair: tuple[str, str]) -> None:
    first, second = pair
    hypothesis.assume(first != second)

    assert tokens.token_secret_name(first) != tokens.token_secret_name(second)
