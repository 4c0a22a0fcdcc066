"""Prometheus metrics of the syncer, served on `/metrics` by the process that runs it."""

from __future__ import annotations

import prometheus_client

SYNC_SECONDS = prometheus_client.Histogram(
    "atoll_sync_seconds",
    "Time to sync one object, by kind.",
    ["kind"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_WAIT_SECONDS = prometheus_client.Histogram(
    "atoll_queue_wait_seconds",
    "Time an item waited in its tenant's queue, by kind and lane (tenant: what the tenant "
    "changed; super: news from the super-cluster).",
    ["kind", "side"],
    buckets=(0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = prometheus_client.Gauge(
    "atoll_queue_depth", "Items waiting in a tenant's queue.", ["vc"]
)
QUEUE_AGE = prometheus_client.Gauge(
    "atoll_queue_oldest_seconds", "Age of the oldest item waiting in a tenant's queue.", ["vc"]
)
ERRORS = prometheus_client.Counter(
    "atoll_sync_errors_total", "Objects that could not be synced, by reason.", ["vc", "reason"]
)
DRIFT = prometheus_client.Counter(
    "atoll_drift_repaired_total", "Differences the patrol found and repaired.", ["vc", "kind"]
)
SYNCED = prometheus_client.Counter(
    "atoll_objects_synced_total", "Super objects created for a tenant, by kind.", ["vc", "kind"]
)
TENANTS = prometheus_client.Gauge("atoll_tenants", "VirtualClusters this syncer serves.")
