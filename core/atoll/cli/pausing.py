"""`atoll pause` and `atoll resume`: set `spec.paused` and, with --wait, see the operator act.

A paused VirtualCluster keeps its data while the operator stops its control plane and the
syncer leaves it alone; its phase becomes `Paused`. Resuming clears the field and the phase
returns to `Running` once the control plane serves again. Both are idempotent. The wait
counts only a phase the operator wrote for the patched generation, so an old `Running`
cannot end a resume's wait, nor an old `Paused` a pause's.
"""

from __future__ import annotations

import pathlib

import click

from atoll.cli import connection, output, virtualclusters
from atoll.core import api as atoll_api
from atoll.core.kube import client as kube_client


async def set_paused(
    api: kube_client.Client, namespace: str, name: str, *, paused: bool
) -> tuple[bool, int]:
    """Whether `spec.paused` had to change, and the generation that carries the wanted value."""
    vc = await connection.read_vc(api, namespace, name)
    if bool((vc.get("spec") or {}).get("paused")) == paused:
        return False, int(vc["metadata"].get("generation", 1))
    patched = await api.patch(
        atoll_api.VIRTUALCLUSTERS.path(namespace, name), {"spec": {"paused": paused}}
    )
    return True, int(patched["metadata"]["generation"])


def _switch(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    wait: bool,
    timeout: float,
    paused: bool,
) -> None:
    target = connection.resolve(kubeconfig, context)
    changed, generation = connection.run_api(
        target, lambda api: set_paused(api, namespace, name, paused=paused)
    )
    verb = "paused" if paused else "resumed"
    if not changed:
        output.stderr.print(f"virtualcluster {namespace}/{name} is already {verb}")
    elif paused:
        output.stderr.print(
            f"virtualcluster {namespace}/{name} pausing: its control plane stops and its data "
            f"stays; `atoll resume {name} -n {namespace}` starts it again",
            markup=False,
        )
    else:
        output.stderr.print(f"virtualcluster {namespace}/{name} resuming")
    if wait:
        phase = "Paused" if paused else "Running"
        connection.wait_for_phase(
            target, namespace, name, frozenset({phase}), timeout=timeout, generation=generation
        )
        output.stderr.print(f"virtualcluster {namespace}/{name} is {phase}")


WAIT_OPTION = click.option(
    "--wait/--no-wait", default=False, help="Return once the operator has acted."
)


@click.command()
@connection.NAME_ARGUMENT
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@WAIT_OPTION
@virtualclusters.WAIT_TIMEOUT_OPTION
def pause(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Pause a VirtualCluster; its data stays.

    The operator stops its control plane and the syncer leaves it alone until `atoll resume`.
    """
    _switch(
        name=name,
        namespace=namespace,
        kubeconfig=kubeconfig,
        context=context,
        wait=wait,
        timeout=timeout,
        paused=True,
    )


@click.command()
@connection.NAME_ARGUMENT
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@WAIT_OPTION
@virtualclusters.WAIT_TIMEOUT_OPTION
def resume(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Resume a paused VirtualCluster; --wait returns once it runs."""
    _switch(
        name=name,
        namespace=namespace,
        kubeconfig=kubeconfig,
        context=context,
        wait=wait,
        timeout=timeout,
        paused=False,
    )
