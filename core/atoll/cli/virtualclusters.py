"""`atoll create|list|get|kubeconfig|delete`: VirtualClusters from the command line.

The commands follow kubectl's conventions (`-n`, `--kubeconfig`, `--context`, `-o`) and talk
to the super-cluster's API only: whatever the operator does, they observe through status.
`describe`, `pause`/`resume` and `connect` have modules of their own.
"""

from __future__ import annotations

import base64
import os
import pathlib
from typing import Any

import click

from atoll.cli import connection, output
from atoll.core import api as atoll_api
from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources

KubeObject = kube_client.KubeObject
WAIT_TIMEOUT_OPTION = click.option(
    "--timeout", default=300.0, show_default=True, help="Seconds to wait."
)


def vc_body(
    *,
    name: str,
    namespace: str,
    pools: tuple[str, ...],
    default_pool: str | None,
    provisioner: str | None,
    datastore: str | None,
) -> KubeObject:
    """The VirtualCluster `atoll create` asks for: only what was given, defaults elsewhere."""
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


async def _create(api: kube_client.Client, body: KubeObject, *, exist_ok: bool) -> bool:
    """True when created, False when it was there already (and that is fine)."""
    namespace, name = body["metadata"]["namespace"], body["metadata"]["name"]
    try:
        await api.create(atoll_api.VIRTUALCLUSTERS.path(namespace), body)
    except errors.AlreadyExists as error:
        if exist_ok:
            return False
        raise output.Failure(
            f"VirtualCluster {name} already exists in namespace {namespace}: pass --exist-ok "
            f"to accept it, or see it with `atoll describe {name} -n {namespace}`"
        ) from error
    except errors.NotFound as error:
        if (error.body.get("details") or {}).get("kind") != "namespaces":
            raise
        raise output.Failure(
            f"namespace {namespace} does not exist: create it with "
            f"`kubectl create namespace {namespace}`, or pick another with -n"
        ) from error
    return True


@click.command()
@click.argument("name")
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
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
@WAIT_TIMEOUT_OPTION
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
    """Create a VirtualCluster; --wait returns once it runs."""
    target = connection.resolve(kubeconfig, context)
    body = vc_body(
        name=name,
        namespace=namespace,
        pools=tuple(pool.strip() for pool in pools.split(",") if pool.strip()),
        default_pool=default_pool,
        provisioner=provisioner,
        datastore=datastore,
    )
    created = connection.run_api(target, lambda api: _create(api, body, exist_ok=exist_ok))
    output.stderr.print(f"virtualcluster {namespace}/{name} {'created' if created else 'exists'}")
    if wait:
        connection.wait_for_phase(target, namespace, name, frozenset({"Running"}), timeout=timeout)
        output.stderr.print(
            f"virtualcluster {namespace}/{name} is Running; use it with "
            f"`atoll connect {name} -n {namespace}`",
            markup=False,
        )


@click.command(name="list")
@connection.NAMESPACE_OPTION
@click.option("-A", "--all-namespaces", is_flag=True, help="VirtualClusters of every namespace.")
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@output.FORMAT_OPTION
def list_(
    *,
    namespace: str,
    all_namespaces: bool,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    output_format: output.OutputFormat,
) -> None:
    """List VirtualClusters: phase, version, endpoint."""
    target = connection.resolve(kubeconfig, context)
    path = atoll_api.VIRTUALCLUSTERS.path(None if all_namespaces else namespace)
    items: list[KubeObject] = connection.run_api(target, lambda api: api.get(path))["items"]
    if output_format != "table":
        output.data(items, output_format)
        return
    if not items:
        where = "any namespace" if all_namespaces else f"namespace {namespace}"
        output.stderr.print(f"no VirtualClusters in {where}")
        return
    output.table(
        ["namespace", "name", "phase", "version", "endpoint"],
        [
            (
                vc["metadata"]["namespace"],
                vc["metadata"]["name"],
                (vc.get("status") or {}).get("phase", "Pending"),
                (vc.get("status") or {}).get("version", ""),
                (vc.get("status") or {}).get("controlPlaneEndpoint", ""),
            )
            for vc in items
        ],
    )


def pool_rows(status: KubeObject) -> list[tuple[object, ...]]:
    """`status.nodePools` as table rows: type, nodes ready/total, pods, quota used/hard."""
    return [
        (
            pool["name"],
            pool.get("type", ""),
            f"{pool.get('nodesReady', 0)}/{pool.get('nodesTotal', 0)}",
            pool.get("pods", 0),
            ", ".join(
                f"{key} {(pool['quota'].get('used') or {}).get(key, 0)}/{value}"
                for key, value in (pool.get("quota") or {}).get("hard", {}).items()
            )
            or "-",
        )
        for pool in status.get("nodePools") or []
    ]


POOL_HEADERS = ("pool", "type", "nodes ready", "pods", "quota used/hard")


@click.command()
@connection.NAME_ARGUMENT
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@output.FORMAT_OPTION
def get(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    output_format: output.OutputFormat,
) -> None:
    """Show one VirtualCluster: phase, endpoint, objects synced, pools, conditions."""
    target = connection.resolve(kubeconfig, context)
    vc = connection.run_api(target, lambda api: connection.read_vc(api, namespace, name))
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
        ("services", status.get("serviceCIDR")),
        ("synced", synced_summary(status)),
    ):
        output.stdout.print(f"{label:<12} {value or '-'}")
    if rows := pool_rows(status):
        output.stdout.print()
        output.table(POOL_HEADERS, rows)
    output.stdout.print()
    output.table(
        ["condition", "status", "reason", "message"],
        [
            (item["type"], item["status"], item["reason"], item["message"])
            for item in status.get("conditions") or []
        ],
    )


def synced_summary(status: dict[str, Any]) -> str:
    """Super objects the syncer keeps for the tenant, per kind: `ConfigMap 3, Pod 12`."""
    counts = status.get("syncedObjects") or {}
    return ", ".join(f"{kind} {count}" for kind, count in sorted(counts.items()))


async def read_kubeconfig(api: kube_client.Client, namespace: str, name: str) -> str:
    """The tenant's admin kubeconfig from its Secret; says why when there is none yet."""
    secret_path = resources.SECRETS.path(namespace, naming.kubeconfig_secret(name))
    try:
        secret = await api.get(secret_path)
    except errors.NotFound as error:
        vc = await connection.read_vc(api, namespace, name)
        phase = (vc.get("status") or {}).get("phase") or "Pending"
        raise output.Failure(
            f"{namespace}/{name} has no kubeconfig yet (it is {phase}): wait for it with "
            f"`atoll create {name} -n {namespace} --exist-ok --wait`, or see why with "
            f"`atoll describe {name} -n {namespace}`"
        ) from error
    return base64.b64decode(secret["data"]["value"]).decode()


def write_private(path: pathlib.Path, text: str) -> None:
    """Write a file only its owner may read: kubeconfigs carry credentials."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)


@click.command()
@connection.NAME_ARGUMENT
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@click.option(
    "-o",
    "--output",
    "output_file",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    default=None,
    help="Write it to this file (mode 0600) and print an export line, instead of printing it.",
)
def kubeconfig(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    output_file: pathlib.Path | None,
) -> None:
    """Print (or save) the tenant's admin kubeconfig.

    Its output is a kubeconfig document, not data, so here -o names a file; `atoll connect`
    merges the same credentials into an existing kubeconfig instead.
    """
    target = connection.resolve(kubeconfig, context)
    value = connection.run_api(target, lambda api: read_kubeconfig(api, namespace, name))
    if output_file is None:
        click.echo(value, nl=False)
        return
    write_private(output_file, value)
    output.stderr.print(f"kubeconfig of {namespace}/{name} written to {output_file}", markup=False)
    click.echo(f"export KUBECONFIG={output_file}")


async def _delete(api: kube_client.Client, namespace: str, name: str) -> None:
    try:
        await api.delete(atoll_api.VIRTUALCLUSTERS.path(namespace, name))
    except errors.NotFound as error:
        raise connection.not_found(namespace, name) from error


@click.command()
@connection.NAME_ARGUMENT
@connection.NAMESPACE_OPTION
@connection.KUBECONFIG_OPTION
@connection.CONTEXT_OPTION
@click.option("--wait/--no-wait", default=False, help="Return once everything is gone.")
@WAIT_TIMEOUT_OPTION
def delete(
    *,
    name: str,
    namespace: str,
    kubeconfig: pathlib.Path | None,
    context: str | None,
    wait: bool,
    timeout: float,
) -> None:
    """Delete a VirtualCluster and, unless it is Retain, its data."""
    target = connection.resolve(kubeconfig, context)
    connection.run_api(target, lambda api: _delete(api, namespace, name))
    output.stderr.print(f"virtualcluster {namespace}/{name} deleting")
    if wait:
        connection.wait_for_phase(target, namespace, name, frozenset(), timeout=timeout)
        output.stderr.print(f"virtualcluster {namespace}/{name} deleted")
