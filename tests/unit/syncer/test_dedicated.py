"""Dedicated pools: the oldest claimant holds a pool, and it passes on when the holder goes."""

from __future__ import annotations

from typing import Any

from atoll.syncer import dedicated, mapping


def vc(
    uid: str, created: str, *pools: str, dedicated_pools: tuple[str, ...] = ()
) -> dict[str, Any]:
    return {
        "metadata": {"uid": uid, "name": uid, "namespace": "ns", "creationTimestamp": created},
        "spec": {
            "nodePools": [{"name": pool} for pool in pools]
            + [{"name": pool, "dedicated": True} for pool in dedicated_pools]
        },
    }


def tenant(uid: str) -> mapping.Tenant:
    return mapping.Tenant(vc_name=uid, vc_namespace="ns", vc_uid=uid, server="", spec={})


def test_the_oldest_claim_holds_the_pool_and_it_passes_on_when_the_holder_goes() -> None:
    holders = dedicated.Holders()
    young = vc("b", "2026-12-02T00:00:00Z", dedicated_pools=("vault",))
    old = vc("a", "2026-12-01T00:00:00Z", "edge-a", dedicated_pools=("vault",))

    holders.note(young, gone=False)
    assert holders.elsewhere(tenant("a")) == {"vault"}
    holders.note(old, gone=False)

    assert holders.elsewhere(tenant("a")) == frozenset()
    assert holders.elsewhere(tenant("b")) == {"vault"}
    assert holders.elsewhere(tenant("c")) == {"vault"}

    holders.note(old, gone=True)
    assert holders.elsewhere(tenant("b")) == frozenset()
    assert holders.elsewhere(tenant("a")) == {"vault"}


def test_a_claim_ends_when_the_pool_is_no_longer_dedicated_or_the_cluster_is_deleted() -> None:
    holders = dedicated.Holders()
    holders.note(vc("a", "2026-12-01T00:00:00Z", dedicated_pools=("vault", "lab")), gone=False)
    assert holders.elsewhere(tenant("x")) == {"vault", "lab"}

    holders.note(vc("a", "2026-12-01T00:00:00Z", "vault", dedicated_pools=("lab",)), gone=False)
    assert holders.elsewhere(tenant("x")) == {"lab"}

    deleting = vc("a", "2026-12-01T00:00:00Z", dedicated_pools=("lab",))
    deleting["metadata"]["deletionTimestamp"] = "2026-12-03T00:00:00Z"
    holders.note(deleting, gone=False)
    assert holders.elsewhere(tenant("x")) == frozenset()
