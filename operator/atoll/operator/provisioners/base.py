"""The interface every provisioner implements, and what it reports back."""

from __future__ import annotations

import dataclasses
from typing import Protocol

from atoll.operator import plan as plans
from atoll.operator import tenant_pki


@dataclasses.dataclass(frozen=True)
class ControlPlaneStatus:
    """Where a control plane stands after `ensure`."""

    ready: bool
    server: str  # the URL clients should use
    message: str = ""
    version: str = ""


class ProvisionerError(Exception):
    """The control plane cannot be built as asked; `reason` is a CamelCase condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Provisioner(Protocol):
    """Idempotent steps: each may be repeated, and resumed after a crash, without harm."""

    name: str

    def check(self, plan: plans.ControlPlanePlan) -> None:
        """Raise `ProvisionerError` if `plan` cannot be provisioned; touches nothing."""
        ...

    async def ensure(
        self, plan: plans.ControlPlanePlan, material: tenant_pki.TenantPki
    ) -> ControlPlaneStatus:
        """Create or update whatever is missing or different, then report readiness."""
        ...

    async def pause(self, plan: plans.ControlPlanePlan) -> None:
        """Stop the control plane's processes or workloads, keeping every byte of data."""
        ...

    async def destroy(self, plan: plans.ControlPlanePlan, *, keep_data: bool) -> None:
        """Remove the control plane; with `keep_data`, its datastore survives."""
        ...
