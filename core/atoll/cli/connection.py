"""How the VirtualCluster commands reach the super-cluster, and what they say when they cannot.

Every such command takes kubectl's `-n`, `--kubeconfig` and `--context`, resolves them once
into a `Target`, and runs its API calls through `run_api`, which turns each kind of failure
into a message that names the kubeconfig in use and the fix. VirtualCluster lookups, waits
for a phase (with progress on stderr) and shell completion of VirtualCluster names live here
too, so every command words them the same way.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from click import shell_completion

from atoll.cli import kubeconfigs, output
from atoll.core import api as atoll_api
from atoll.core import paths, wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors

T = TypeVar("T")
KubeObject = kube_client.KubeObject


def complete_vc_names(
    context: click.Context, _parameter: click.Parameter, incomplete: str
) -> list[shell_completion.CompletionItem]:
    """VirtualCluster names of the chosen namespace; nothing at all when the API is away."""
    params = context.params
    try:
        target = resolve(params.get("kubeconfig"), params.get("context"))
        path = atoll_api.VIRTUALCLUSTERS.path(params.get("namespace") or "default")
        listing = asyncio.run(_call(target.access, lambda api: api.get(path), timeout=3))
    except Exception:  # noqa: BLE001 - a completion that fails must stay silent
        return []
    names = sorted(item["metadata"]["name"] for item in listing.get("items") or [])
    return [shell_completion.CompletionItem(name) for name in names if name.startswith(incomplete)]


NAME_ARGUMENT = click.argument("name", shell_complete=complete_vc_names)
NAMESPACE_OPTION = click.option(
    "-n",
    "--namespace",
    default="default",
    show_default=True,
    help="Namespace of the VirtualCluster.",
)
KUBECONFIG_OPTION = click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="Super-cluster kubeconfig [default: the first file of $KUBECONFIG, else the local "
    "super-cluster's].",
)
CONTEXT_OPTION = click.option(
    "--context", default=None, help="Kubeconfig context [default: its current context]."
)


@dataclasses.dataclass(frozen=True)
class Target:
    """The super-cluster a command talks to, and where its address came from."""

    access: config.ClusterAccess
    kubeconfig: pathlib.Path
    context: str | None  # the one in use: as given, else the file's current context

    @property
    def source(self) -> str:
        context = f", context {self.context}" if self.context else ""
        return f"kubeconfig {self.kubeconfig}{context}"


def default_kubeconfig() -> pathlib.Path:
    """The first file of $KUBECONFIG, else the local super-cluster's kubeconfig."""
    if first := os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]:
        return pathlib.Path(first).expanduser()
    return paths.state_dir() / "super.kubeconfig"


def resolve(kubeconfig: pathlib.Path | None, context: str | None) -> Target:
    """The super-cluster as the user chose it, or the local one `atoll up` started."""
    chosen = kubeconfig or default_kubeconfig()
    try:
        access = config.load_kubeconfig(chosen, context)
        in_use = context or (kubeconfigs.read(chosen) or {}).get("current-context")
    except config.KubeconfigError as error:
        raise output.Failure(
            f"{error}: start the local super-cluster with `atoll up`, or pass --kubeconfig "
            f"(and --context) for another one"
        ) from error
    return Target(access, chosen, in_use)


def _tenant_context(target: Target) -> output.Failure | None:
    """The likely cause when a super-cluster call fails: a tenant's context was in use."""
    if not kubeconfigs.is_tenant_context(target.context):
        return None
    return output.Failure(
        f"context {target.context} of {target.kubeconfig} is a tenant's (from `atoll connect`), "
        f"not the super-cluster: pass --context with the super-cluster's context, or "
        f"--kubeconfig"
    )


async def _call(
    access: config.ClusterAccess,
    action: Callable[[kube_client.Client], Awaitable[T]],
    timeout: float = 15,
) -> T:
    async with kube_client.Client(access, timeout=timeout) as api:
        return await action(api)


def run_api(target: Target, action: Callable[[kube_client.Client], Awaitable[T]]) -> T:
    """Run API calls on one connection; a failure becomes an `output.Failure` naming the fix."""
    try:
        return asyncio.run(_call(target.access, action))
    except errors.Unreachable as error:
        raise _tenant_context(target) or output.Failure(
            f"the super-cluster at {target.access.server} ({target.source}) does not answer: "
            f"start the local one with `atoll up` (`atoll status` shows it), or pass "
            f"--kubeconfig for another",
            (str(error.__cause__ or error),),
        ) from error
    except (errors.Unauthorized, errors.Forbidden) as error:
        raise output.Failure(
            f"the super-cluster at {target.access.server} refuses the credentials of "
            f"{target.source}: {error}",
        ) from error
    except errors.NotFound as error:
        if (error.body.get("details") or {}).get("name"):
            raise output.Failure(str(error)) from error
        raise _tenant_context(target) or output.Failure(
            f"the API server at {target.access.server} ({target.source}) serves no "
            f"VirtualClusters: pass --kubeconfig (or --context) of a super-cluster that runs "
            f"atoll's operator, which installs them",
        ) from error
    except errors.ApiError as error:
        raise output.Failure(str(error)) from error


def not_found(namespace: str, name: str) -> output.Failure:
    return output.Failure(
        f"no VirtualCluster {name} in namespace {namespace}; list them with `atoll list -A`"
    )


async def read_vc(api: kube_client.Client, namespace: str, name: str) -> KubeObject:
    try:
        return await api.get(atoll_api.VIRTUALCLUSTERS.path(namespace, name))
    except errors.NotFound as error:
        raise not_found(namespace, name) from error


async def read_vc_or_none(api: kube_client.Client, namespace: str, name: str) -> KubeObject | None:
    try:
        return await api.get(atoll_api.VIRTUALCLUSTERS.path(namespace, name))
    except errors.NotFound:
        return None


def ready_condition(vc: KubeObject) -> dict[str, Any]:
    found: dict[str, Any] = next(
        (
            item
            for item in (vc.get("status") or {}).get("conditions") or []
            if item.get("type") == "Ready"
        ),
        {},
    )
    return found


def wait_for_phase(
    target: Target,
    namespace: str,
    name: str,
    wanted: frozenset[str],
    *,
    timeout: float,
    generation: int = 0,
) -> KubeObject | None:
    """Poll until the phase is one of `wanted` as of `generation`; None once the VC is gone.

    An empty `wanted` waits for the VirtualCluster to disappear. Progress goes to stderr.
    """

    async def watch(api: kube_client.Client) -> KubeObject | None:
        with output.progress(f"waiting for {namespace}/{name}") as report:

            async def reached() -> tuple[KubeObject | None] | None:
                vc = await read_vc_or_none(api, namespace, name)
                if vc is None:
                    return (None,)
                status = vc.get("status") or {}
                phase = status.get("phase") or "Pending"
                current = int(status.get("observedGeneration") or 0) >= generation
                ready = ready_condition(vc)
                report(f"{phase}: {ready.get('message') or 'no word from the operator yet'}")
                if current and phase in wanted:
                    return (vc,)
                if current and phase == "Failed" and "Failed" not in wanted:
                    raise output.Failure(
                        f"{namespace}/{name} failed: {ready.get('reason')}: "
                        f"{ready.get('message')}; `atoll describe {name} -n {namespace}` shows "
                        f"its conditions and events"
                    )
                return None

            found = await wait.until(reached, timeout=timeout, what=f"{namespace}/{name}")
            return found[0]

    try:
        return run_api(target, watch)
    except TimeoutError as error:
        goal = " or ".join(sorted(wanted)) or "gone"
        raise output.Failure(
            f"{namespace}/{name} is not {goal} after {timeout:.0f} s: "
            f"`atoll describe {name} -n {namespace}` shows why, --timeout waits longer"
        ) from error
