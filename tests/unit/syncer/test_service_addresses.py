"""Unit tests for `atoll.syncer.service_addresses`: which side of a Service pair gives way."""

from __future__ import annotations

from typing import Any

import pytest

from atoll.syncer import mapping, service_addresses

UID = "6f1c3a52-0d8e-4c5b-9a7e-2b1d4f6e8c90"
SLICED = mapping.Tenant("dev", "team-a", UID, "https://vc:6443", service_range="10.112.16.0/20")
UNSLICED = mapping.Tenant("dev", "team-a", UID, "https://vc:6443")
REPLACING = service_addresses.REPLACING
REFUSED = service_addresses.REFUSED


def service(address: str | None, **annotations: str) -> dict[str, Any]:
    spec = {"selector": {"app": "web"}} | ({"clusterIP": address} if address else {})
    return {
        "metadata": {"name": "web", "namespace": "shop", "annotations": annotations},
        "spec": spec,
    }


@pytest.mark.parametrize(
    ("tenant", "tenant_ip", "super_ip", "annotations", "step"),
    [
        pytest.param(SLICED, "10.112.16.9", "10.112.16.9", {}, "none", id="agreed"),
        pytest.param(SLICED, "None", "None", {}, "none", id="headless"),
        pytest.param(SLICED, None, "10.112.16.9", {}, "none", id="tenant-not-allocated"),
        pytest.param(
            SLICED, "10.112.16.9", "10.112.16.9", {REPLACING: "{}"}, "clear-record", id="done"
        ),
        pytest.param(
            SLICED,
            "10.112.16.9",
            "10.96.4.4",
            {REFUSED: "10.112.16.9"},
            "recreate-tenant",
            id="refused-address",
        ),
        pytest.param(
            SLICED,
            "10.112.16.77",
            "10.96.4.4",
            {REFUSED: "10.112.16.9", REPLACING: "{}"},
            "recreate-super",
            id="tenant-took-another-address",
        ),
        pytest.param(SLICED, "10.112.16.9", "10.96.4.4", {}, "recreate-super", id="super-drifted"),
        pytest.param(UNSLICED, "10.96.7.7", "10.96.4.4", {}, "recreate-tenant", id="no-slice"),
        pytest.param(
            UNSLICED,
            "10.96.4.4",
            "10.96.4.4",
            {REPLACING: "{}"},
            "clear-record",
            id="no-slice-swap-seen-through",
        ),
    ],
)
def test_next_step(
    tenant: mapping.Tenant,
    tenant_ip: str | None,
    super_ip: str,
    annotations: dict[str, str],
    step: str,
) -> None:
    assert (
        service_addresses.next_step(tenant, service(tenant_ip), service(super_ip, **annotations))
        == step
    )


REFUSED_PAIR = (service("10.112.16.9"), service("10.96.4.4", **{REFUSED: "10.112.16.9"}))


@pytest.mark.parametrize(
    ("tenant", "pair", "recreated", "step"),
    [
        pytest.param(
            UNSLICED,
            (service("10.96.7.7"), service("10.112.16.5")),
            0,
            "keep",
            id="super-address-unholdable",
        ),
        pytest.param(
            SLICED,
            REFUSED_PAIR,
            service_addresses.MAX_RECREATIONS,
            "keep",
            id="every-new-address-refused",
        ),
        pytest.param(
            SLICED,
            REFUSED_PAIR,
            service_addresses.MAX_RECREATIONS - 1,
            "recreate-tenant",
            id="one-more-try",
        ),
    ],
)
def test_a_tenant_service_is_created_again_only_when_that_can_end_well(
    tenant: mapping.Tenant, pair: tuple[dict[str, Any], dict[str, Any]], recreated: int, step: str
) -> None:
    tenant_service, super_service = pair

    assert service_addresses.next_step(tenant, tenant_service, super_service, recreated) == step


def test_a_refused_address_is_left_to_the_super_cluster_and_recorded() -> None:
    want = service("10.112.16.9")
    want["spec"]["clusterIPs"] = ["10.112.16.9"]

    fallback = service_addresses.refused_form(want)

    assert fallback is not None
    assert fallback["metadata"]["annotations"][REFUSED] == "10.112.16.9"
    assert not set(service_addresses.ADDRESSES) & set(fallback["spec"])
    assert fallback["spec"]["selector"] == want["spec"]["selector"]
    assert want["spec"]["clusterIP"] == "10.112.16.9"  # the original is untouched


@pytest.mark.parametrize("address", [None, "None"])
def test_a_service_asking_no_address_has_no_refused_form(address: str | None) -> None:
    assert service_addresses.refused_form(service(address)) is None


@pytest.mark.parametrize(
    ("tenant", "address", "own"),
    [
        (SLICED, "10.112.16.1", True),
        (SLICED, "10.112.31.254", True),
        (SLICED, "10.112.32.1", False),
        (SLICED, "None", False),
        (SLICED, None, False),
        (UNSLICED, "10.112.16.1", False),
    ],
)
def test_in_own_range(tenant: mapping.Tenant, address: str | None, own: bool) -> None:
    assert service_addresses.in_own_range(tenant, address) is own
