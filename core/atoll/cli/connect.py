"""`atoll connect`: put a tenant's credentials where kubectl finds them.

By default the tenant's context is merged, as `atoll_<namespace>_<name>`, into the user's
kubeconfig (the first file of $KUBECONFIG, else ~/.kube/config) and made current; every
other entry of that file stays. `--print-env` leaves every kubeconfig alone: it writes the
tenant's own file under the state folder and prints the `export KUBECONFIG=…` line.
The merging itself is `atoll.cli.kubeconfigs`.
"""

from __future__ import annotations

import os
import pathlib

import click

from atoll.cli import connection, kubeconfigs, output, virtualclusters
from atoll.core import paths
from atoll.core.kube import client as kube_client

KubeObject = kube_client.KubeObject


def default_output() -> pathlib.Path:
    """The kubeconfig kubectl reads: the first file of $KUBECONFIG, else ~/.kube/config."""
    if first := os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]:
        return pathlib.Path(first).expanduser()
    return pathlib.Path.home() / ".kube" / "config"


async def _fetch(api: kube_client.Client, namespace: str, name: str) -> tuple[KubeObject, str]:
    vc = await connection.read_vc(api, namespace, name)
    return vc, await virtualclusters.read_kubeconfig(api, namespace, name)


def _same_file(first: pathlib.Path, second: pathlib.Path) -> bool:
    return first.expanduser().resolve() == second.expanduser().resolve()


@click.command()
@connection.NAME_ARGUMENT
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@click.option(
    "--kubeconfig-out",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="Kubeconfig to merge into [default: the first file of $KUBECONFIG, else ~/.kube/config].",
)
@click.option(
    "--switch/--no-switch",
    default=True,
    show_default=True,
    help="Make the tenant's context the current one.",
)
@click.option(
    "--print-env",
    is_flag=True,
    help="Merge nothing: write the tenant's kubeconfig under the state folder and print "
    "an export KUBECONFIG line.",
)
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help="State folder for --print-env [default: $ATOLL_STATE_DIR or ~/.local/state/atoll].",
)
def connect(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    kubeconfig_out: pathlib.Path | None,
    switch: bool,
    print_env: bool,
    state_dir: pathlib.Path | None,
) -> None:
    """Merge a tenant's context into your kubeconfig.

    With --print-env, merge nothing: write the tenant's own kubeconfig and print the line
    that exports it.
    """
    if print_env and kubeconfig_out is not None:
        raise click.UsageError("--print-env and --kubeconfig-out exclude each other")
    folder = (state_dir or paths.state_dir()).expanduser()
    merge_into = kubeconfig_out or default_output()
    if not print_env and _same_file(merge_into, folder / "super.kubeconfig"):
        raise output.Failure(
            f"{merge_into} is the local super-cluster's kubeconfig, which `atoll up` rewrites: "
            f"merge into another with --kubeconfig-out ~/.kube/config, or use --print-env"
        )
    target = connection.resolve(kubeconfig, context)
    vc, tenant_kubeconfig = connection.run_api(target, lambda api: _fetch(api, namespace, name))
    context_name = kubeconfigs.context_name(namespace, name)
    addition = kubeconfigs.tenant_document(tenant_kubeconfig, context_name)
    phase = (vc.get("status") or {}).get("phase")
    if phase != "Running":
        output.stderr.print(
            f"note: {namespace}/{name} is {phase}: its API server answers once it is Running "
            f"(`atoll describe {name} -n {namespace}`)",
            markup=False,
        )

    if print_env:
        path = folder / "kubeconfigs" / f"{context_name}.kubeconfig"
        kubeconfigs.write(path, addition)
        output.stderr.print(f"kubeconfig of {namespace}/{name} written to {path}", markup=False)
        click.echo(f"export KUBECONFIG={path}")
        return

    previous = kubeconfigs.merge_into_file(merge_into, addition, switch=switch)
    use = "" if kubeconfig_out is None else f" --kubeconfig {merge_into}"
    message = f"context {context_name} merged into {merge_into}"
    switched_away = switch and previous is not None and previous != context_name
    if switched_away:
        message += (
            f" and made current (it was {previous}; switch back with "
            f"`kubectl{use} config use-context {previous}`)"
        )
    elif switch:
        message += " and made current"
    output.stderr.print(message, markup=False)
    if switched_away and _same_file(merge_into, target.kubeconfig):
        output.stderr.print(
            f"atoll reads {merge_into} too: give its commands --context {previous}",
            markup=False,
        )
    output.stderr.print(f"try: kubectl{use} --context {context_name} get namespaces", markup=False)
