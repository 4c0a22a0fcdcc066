"""Which VirtualCluster each dedicated pool belongs to, as the engine sees them come and go.

A VirtualCluster may ask for one of its pools to be `dedicated`: reserved to it, tainted so
no one else's pods land there. Two may ask for the same pool; the oldest claimant (by
creation time, then uid) holds it, and the pool passes to the next when the holder goes or
lets go. The engine tells `Holders` of every VirtualCluster change; pod placement asks which
pools are dedicated to someone else. Pure bookkeeping: no API calls.
"""

from __future__ import annotations

from typing import Any

from atoll.syncer import mapping

Seniority = tuple[str, str]  # (creation time, uid): the older claim wins


class Holders:
    """The holder of every dedicated pool, from the claims of the VirtualClusters seen."""

    def __init__(self) -> None:
        self._claims: dict[tuple[str, Seniority], str] = {}  # (pool, seniority) → uid
        self._holders: dict[str, str] = {}  # pool → uid of the VirtualCluster it belongs to

    def note(self, vc: dict[str, Any], *, gone: bool) -> None:
        """Take in one VirtualCluster's current claims (none when it is gone or going)."""
        metadata = vc["metadata"]
        uid = metadata["uid"]
        self._claims = {place: owner for place, owner in self._claims.items() if owner != uid}
        if not gone and not metadata.get("deletionTimestamp"):
            seniority = (str(metadata.get("creationTimestamp", "")), uid)
            for pool in (vc.get("spec") or {}).get("nodePools") or []:
                if pool.get("dedicated"):
                    self._claims[(pool["name"], seniority)] = uid

        oldest: dict[str, tuple[Seniority, str]] = {}
        for (pool, claim), owner in self._claims.items():
            if pool not in oldest or claim < oldest[pool][0]:
                oldest[pool] = (claim, owner)
        self._holders = {pool: owner for pool, (_claim, owner) in oldest.items()}

    def elsewhere(self, tenant: mapping.Tenant) -> frozenset[str]:
        """Pools dedicated to VirtualClusters other than `tenant`'s."""
        return frozenset(pool for pool, owner in self._holders.items() if owner != tenant.vc_uid)
