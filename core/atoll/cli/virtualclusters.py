"""`atoll create|list|get|kubeconfig|delete`: VirtualClusters from the command line.

The commands follow kubectl's conventions (`-n`, `--kubeconfig`, `--context`, `-o`) and talk
to the super-cluster's API only: whatever the operator does, they observe through status.
"""

from __future__ import annotations

import asyncio
import base64
import os
import pathlib
import time
from collections.abc import Callable
from typing import Any

import click

from atoll.cli import output
from atoll.core import api as atoll_api
from atoll.core import naming, paths
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources

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
    help="Super-cluster kubeconfig [default: $KUBECONFIG, else the local super-cluster's].",
)
CONTEXT_OPTION = click.option("--context", default=None, help="Kubeconfig context to use.")


def super_access(kubeconfig: pathlib.Path | None, context: str | None) -> config.ClusterAccess:
    """The super-cluster as the user chose it, or the local one `atoll up` started."""
    chosen = kubeconfig or (
        pathlib.Path(os.environ["KUBECONFIG"].split(os.pathsep)[0])
        if os.environ.get("KUBECONFIG")
        else paths.state_dir() / "super.kubeconfig"
    )
    try:
        return config.load_kubeconfig(chosen, context)
    except config.KubeconfigError as error:
        output.fail(f"{error}. Start a local super-cluster with `atoll up`, or pass --kubeconfig")
        raise


def run_api(access: config.ClusterAccess, action: Callable[[kube_client.Client], Any]) -> Any:
    async def session() -> Any:
        async with kube_client.Client(access, timeout=15) as api:
            return await action(api)

    try:
        return asyncio.run(session())
    except errors.Unreachable as error:
        output.fail(
            f"the super-cluster at {access.server} does not answer ({error}): is it "
            f"running? (`atoll status`)"
        )
    except errors.ApiError as error:
        output.fail(str(error))


def _vc_body(
    *,
    name: str,
    namespace: str,
    pools: tuple[str, ...],
    default_pool: str | None,
    provisioner: str | None,
    datastore: str | None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if pools:
        spec["nodePools"] = [{"name": pool} for pool in pools]
    if default_pool:
        spec["defaultNodePool"] = default_pool
    control_plane: dict[str, Any] = {}
    if provisioner:
        control_plane["provisioner"] = provisioner
    if datastore:
        control_plane["datastore"] = {"type": datastore, "mode": "dedicated"}
    if control_plane:
        spec["controlPlane"] = control_plane
    return {
        "apiVersion": atoll_api.API_VERSION,
        "kind": "VirtualCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def _get_or_none(api: kube_client.Client, path: str) -> dict[str, Any] | None:
    try:
        return await api.get(path)
    except errors.NotFound:
        return None


async def _create_or_keep(
    api: kube_client.Client, namespace: str, body: dict[str, Any], exist_ok: bool
) -> bool:
    try:
        await api.create(atoll_api.VIRTUALCLUSTERS.path(namespace), body)
    except errors.AlreadyExists:
        if not exist_ok:
            raise
        return False
    return True


def wait_for_phase(
    access: config.ClusterAccess, namespace: str, name: str, wanted: set[str], timeout: float
) -> dict[str, Any] | None:
    """Poll the VirtualCluster until its phase is one of `wanted` (None once it is gone)."""
    path = atoll_api.VIRTUALCLUSTERS.path(namespace, name)
    give_up = time.monotonic() + timeout
    with output.progress(f"waiting for {namespace}/{name}") as report:
        while True:
            vc: dict[str, Any] | None = run_api(access, lambda api: _get_or_none(api, path))
            if vc is None:
                return None
            status = vc.get("status") or {}
            phase = status.get("phase", "Pending")
            ready: dict[str, Any] = next(
                (item for item in status.get("conditions") or [] if item["type"] == "Ready"), {}
            )
            report(f"{phase}: {ready.get('message', '')}")
            if phase in wanted:
                return vc
            if phase == "Failed" and "Failed" not in wanted:
                output.fail(
                    f"{namespace}/{name} failed: {ready.get('reason')}: {ready.get('message')}"
                )
            if time.monotonic() > give_up:
                output.fail(f"{namespace}/{name} still {phase} after {timeout:.0f} s")
            time.sleep(0.5)


@click.command()
@click.argument("name")
@NAMESPACE_OPTION
@KUBECONFIG_OPTION
@CONTEXT_OPTION
@click.option("--pools", default="", help="Node pools the tenant may use, comma-separated.")
@click.option("--default-pool", default=None, help="Pool for pods that name none.")
@click.option(
    "--provisioner",
    type=click.Choice(["process", "kubernetes"]),
    default=None,
    help="Where the control plane runs [default: the operator's choice].",
)
@click.option(
    "--datastore",
    type=click.Choice(["etcd", "kine"]),
    default=None,
    help="Tenant datastore [default: etcd].",
)
@click.option("--exist-ok", is_flag=True, help="Succeed if it already exists.")
@click.option("--wait/--no-wait", default=False, help="Return once it is Running.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
def create(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    pools: str,
    default_pool: str | None,
    provisioner: str | None,
    datastore: str | None,
    exist_ok: bool,
    wait: bool,
    timeout: float,
) -> None:
    """Create a VirtualCluster."""
    access = super_access(kubeconfig, context)
    pool_names = tuple(pool.strip() for pool in pools.split(",") if pool.strip())
    body = _vc_body(
        name=name,
        namespace=namespace,
        pools=pool_names,
        default_pool=default_pool,
        provisioner=provisioner,
        datastore=datastore,
    )
    created = run_api(access, lambda api: _create_or_keep(api, namespace, body, exist_ok))
    output.stderr.print(f"virtualcluster {namespace}/{name} {'created' if created else 'exists'}")
    if wait:
        wait_for_phase(access, namespace, name, {"Running"}, timeout)
        output.stderr.print(
            f"virtualcluster {namespace}/{name} is Running; its kubeconfig: "
            f"atoll kubeconfig {name} -n {namespace}"
        )


@click.command(name="list")
@NAMESPACE_OPTION
@click.option("-A", "--all-namespaces", is_flag=True, help="VirtualClusters of every namespace.")
@KUBECONFIG_OPTION
@CONTEXT_OPTION
@output.FORMAT_OPTION
def list_(
    *,
    namespace: str,
    all_namespaces: bool,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    output_format: output.OutputFormat,
) -> None:
    """List VirtualClusters."""
    access = super_access(kubeconfig, context)
    path = atoll_api.VIRTUALCLUSTERS.path(None if all_namespaces else namespace)
    items = run_api(access, lambda api: api.get(path))["items"]
    if output_format != "table":
        output.data(items, output_format)
        return
    output.table(
        ["namespace", "name", "phase", "version", "endpoint"],
        [
            (
                vc["metadata"]["namespace"],
                vc["metadata"]["name"],
                vc.get("status", {}).get("phase", "Pending"),
                vc.get("status", {}).get("version", ""),
                vc.get("status", {}).get("controlPlaneEndpoint", ""),
            )
            for vc in items
        ],
    )


@click.command()
@click.argument("name")
@NAMESPACE_OPTION
@KUBECONFIG_OPTION
@CONTEXT_OPTION
@output.FORMAT_OPTION
def get(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    output_format: output.OutputFormat,
) -> None:
    """Show one VirtualCluster: phase, endpoint, conditions."""
    access = super_access(kubeconfig, context)
    vc = run_api(access, lambda api: api.get(atoll_api.VIRTUALCLUSTERS.path(namespace, name)))
    if output_format != "table":
        output.data(vc, output_format)
        return
    status = vc.get("status") or {}
    for label, value in (
        ("name", f"{namespace}/{name}"),
        ("phase", status.get("phase")),
        ("version", status.get("version")),
        ("provisioner", status.get("provisioner")),
        ("endpoint", status.get("controlPlaneEndpoint")),
        ("namespace", status.get("clusterNamespace")),
        ("kubeconfig", (status.get("kubeconfigSecretRef") or {}).get("name")),
    ):
        output.stdout.print(f"{label:<12} {value or '-'}")
    if pools := status.get("nodePools"):
        output.stdout.print()
        output.table(
            ["pool", "type", "nodes ready", "pods", "quota used / hard"],
            [
                (
                    pool["name"],
                    pool.get("type", ""),
                    f"{pool.get('nodesReady', 0)}/{pool.get('nodesTotal', 0)}",
                    pool.get("pods", 0),
                    ", ".join(
                        f"{key} {pool['quota']['used'].get(key, 0)}/{value}"
                        for key, value in (pool.get("quota") or {}).get("hard", {}).items()
                    )
                    or "-",
                )
                for pool in pools
            ],
        )
    output.stdout.print()
    output.table(
        ["condition", "status", "reason", "message"],
        [
            (item["type"], item["status"], item["reason"], item["message"])
            for item in status.get("conditions") or []
        ],
    )


@click.command()
@click.argument("name")
@NAMESPACE_OPTION
@KUBECONFIG_OPTION
@CONTEXT_OPTION
@click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(path_type=pathlib.Path),
    default=None,
    help="Write it to this file (mode 0600) instead of printing it.",
)
def kubeconfig(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    output_file: pathlib.Path | None,
) -> None:
    """Print (or save) the tenant's admin kubeconfig."""
    access = super_access(kubeconfig, context)
    secret_path = resources.SECRETS.path(namespace, naming.kubeconfig_secret(name))
    secret = run_api(access, lambda api: api.get(secret_path))
    value = base64.b64decode(secret["data"]["value"]).decode()
    if output_file is None:
        click.echo(value, nl=False)
        return
    output_file.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(output_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value)
    output.stderr.print(f"kubeconfig of {namespace}/{name} written to {output_file}")
    click.echo(f"export KUBECONFIG={output_file}")


@click.command()
@click.argument("name")
@NAMESPACE_OPTION
@KUBECONFIG_OPTION
@CONTEXT_OPTION
@click.option("--wait/--no-wait", default=False, help="Return once everything is gone.")
@click.option("--timeout", default=300.0, show_default=True, help="Seconds to wait.")
def delete(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Delete a VirtualCluster (its data too, unless its deletionPolicy is Retain)."""
    access = super_access(kubeconfig, context)
    path = atoll_api.VIRTUALCLUSTERS.path(namespace, name)
    run_api(access, lambda api: api.delete(path))
    output.stderr.print(f"virtualcluster {namespace}/{name} deleting")
    if wait:
        wait_for_phase(access, namespace, name, set(), timeout)
        output.stderr.print(f"virtualcluster {namespace}/{name} deleted")
