"""Unit tests for `atoll.operator.service_ranges`: cutting tenant slices from the pool."""

from __future__ import annotations

import ipaddress

import pytest

from atoll.operator import service_ranges

POOL = ipaddress.ip_network("10.112.0.0/12")


def networks(*texts: str) -> list[service_ranges.Network]:
    return [ipaddress.ip_network(text) for text in texts]


@pytest.mark.parametrize(
    ("taken", "expected"),
    [
        pytest.param([], "10.112.0.0/20", id="empty-pool"),
        pytest.param(["10.96.0.0/12"], "10.112.0.0/20", id="super-range-beside-the-pool"),
        pytest.param(["10.112.0.0/20"], "10.112.16.0/20", id="first-slice-taken"),
        pytest.param(["10.112.16.0/20"], "10.112.0.0/20", id="a-gap-before-the-taken-one"),
        pytest.param(
            ["10.112.0.0/20", "10.112.16.0/20", "10.112.48.0/20"],
            "10.112.32.0/20",
            id="a-gap-between-two",
        ),
        pytest.param(["10.112.5.0/24"], "10.112.16.0/20", id="a-small-range-inside-a-slice"),
        pytest.param(["10.112.0.0/14"], "10.116.0.0/20", id="a-large-range-over-many-slices"),
        pytest.param(["10.0.0.0/8"], None, id="everything-covered"),
        pytest.param(["fd00::/108"], "10.112.0.0/20", id="another-family-is-ignored"),
    ],
)
def test_first_free_skips_every_address_already_served(
    taken: list[str], expected: str | None
) -> None:
    chosen = service_ranges.first_free(POOL, 20, networks(*taken))

    assert (str(chosen) if chosen else None) == expected


def test_a_full_pool_has_no_free_slice() -> None:
    every_slice: list[service_ranges.Network] = list(
        ipaddress.ip_network("10.112.0.0/22").subnets(new_prefix=24)
    )

    assert service_ranges.first_free(ipaddress.ip_network("10.112.0.0/22"), 24, every_slice) is None


def test_slices_handed_out_one_after_another_never_overlap() -> None:
    taken: list[service_ranges.Network] = [ipaddress.ip_network("10.112.7.0/24")]

    for _ in range(20):
        chosen = service_ranges.first_free(POOL, 22, taken)
        assert chosen is not None
        assert not any(chosen.overlaps(network) for network in taken)
        assert chosen.subnet_of(POOL)  # type: ignore[arg-type]
        taken.append(chosen)


@pytest.mark.parametrize(
    ("pool", "prefix", "fragment"),
    [
        pytest.param("10.112.0.0", 20, "/20 do not fit", id="a-bare-address-is-a-/32"),
        pytest.param("not-a-network", 20, "not a network", id="garbage"),
        pytest.param("10.112.0.1/12", 20, "not a network", id="host-bits-set"),
        pytest.param("10.112.0.0/12", 8, "between /12 and /30", id="slices-larger-than-pool"),
        pytest.param("10.112.0.0/12", 31, "between /12 and /30", id="slices-too-small"),
    ],
)
def test_an_unusable_pool_is_refused_with_the_fix(pool: str, prefix: int, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        service_ranges.check_pool(pool, prefix)


def test_the_default_pool_and_prefix_are_usable() -> None:
    pool = service_ranges.check_pool(service_ranges.DEFAULT_POOL, service_ranges.DEFAULT_PREFIX)

    assert pool.num_addresses // 2 ** (32 - service_ranges.DEFAULT_PREFIX) == 256


def test_the_gateway_is_the_first_address_of_a_range() -> None:
    assert service_ranges.gateway_address("10.112.16.0/20") == "10.112.16.1"
