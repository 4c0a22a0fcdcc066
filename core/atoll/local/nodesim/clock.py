"""Timestamps as the Kubernetes API writes them, for the objects the simulator posts.

Conditions and container states carry RFC 3339 seconds (`metav1.Time`); a Lease's
`renewTime` carries microseconds (`metav1.MicroTime`). Both are UTC with a `Z` suffix.
"""

from __future__ import annotations

import datetime


def now() -> datetime.datetime:
    """The current moment in UTC."""
    return datetime.datetime.now(datetime.UTC)


def rfc3339(moment: datetime.datetime) -> str:
    """`2026-01-01T00:00:00Z`: a `metav1.Time`."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_micro(moment: datetime.datetime) -> str:
    """`2026-01-01T00:00:00.000000Z`: a `metav1.MicroTime`."""
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
