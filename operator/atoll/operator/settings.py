"""The operator's settings: defaults for VirtualClusters and where things go.

Read once from the command line (and environment) by `atoll operator`; passed down to the
reconciler and the provisioners, never read from globals.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib

from atoll.local.nodesim import layout
from atoll.operator import plan as plans
from atoll.operator import service_ranges


@dataclasses.dataclass(frozen=True)
class Settings:
    """Operator-wide choices; every one has a command-line flag."""

    state_dir: pathlib.Path
    default_provisioner: plans.ProvisionerName = "process"
    renew_before: datetime.timedelta = datetime.timedelta(days=30)
    pool_label: str = layout.POOL_LABEL
    cluster_dns: str | None = None  # the super DNS address for tenant pods; None: kube-dns's
    cluster_domain: str = "cluster.local"
    health_interval: float = 30.0
    ready_deadline: float = 90.0
    # Each tenant's Services get addresses from a slice of this pool (see `service_ranges`).
    tenant_service_ranges: str = service_ranges.DEFAULT_POOL
    tenant_service_prefix: int = service_ranges.DEFAULT_PREFIX

    @property
    def process_root(self) -> pathlib.Path:
        """Where the process provisioner keeps tenant control planes."""
        return self.state_dir / "vc"
