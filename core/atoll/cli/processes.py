"""`atoll operator` and `atoll syncer`: the long-running processes, from the command line.

The operator serves `/readyz` and `/metrics` with `--probes-port` (liveness is Kopf's own,
`--liveness`); the syncer serves `/metrics` with `--metrics-port`. The operator (and Kopf with
it) is imported only when one of them runs: every other command, and each TAB of shell
completion, starts without it.
"""

from __future__ import annotations

import datetime
import pathlib

import click
import prometheus_client

from atoll.core import paths, runtime
from atoll.core.kube import config
from atoll.local.nodesim import layout
from atoll.operator import service_ranges
from atoll.operator import settings as operator_settings

KUBECONFIG_OPTION = click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, path_type=pathlib.Path),
    envvar="KUBECONFIG",
    default=None,
    help="Super-cluster kubeconfig. Without one, inside a pod: the pod's service account.",
)
POOL_LABEL_OPTION = click.option(
    "--pool-label",
    default=layout.POOL_LABEL,
    show_default=True,
    help="Node label that names a node's pool.",
)
CLUSTER_DNS_OPTION = click.option(
    "--cluster-dns",
    default=None,
    metavar="IP",
    help="The super-cluster DNS address tenant pods use (default: the kube-dns Service's).",
)
CLUSTER_DOMAIN_OPTION = click.option(
    "--cluster-domain",
    default="cluster.local",
    show_default=True,
    help="The super-cluster's DNS domain.",
)
METRICS_OPTION = click.option(
    "--metrics-port",
    default=0,
    show_default=True,
    help="Serve Prometheus metrics on this port (0: off).",
)


@click.command()
@KUBECONFIG_OPTION
@click.option(
    "--state-dir",
    type=click.Path(file_okay=False, path_type=pathlib.Path),
    default=None,
    help="Where process-provisioned control planes live "
    "[default: $ATOLL_STATE_DIR or ~/.local/state/atoll].",
)
@click.option(
    "--default-provisioner",
    type=click.Choice(["process", "kubernetes"]),
    default="process",
    show_default=True,
    envvar="ATOLL_DEFAULT_PROVISIONER",
    help="Provisioner of VirtualClusters that name none.",
)
@click.option(
    "--install-crds/--no-install-crds",
    default=True,
    show_default=True,
    help="Apply atoll's CRDs and the default ClusterVersion at start.",
)
@click.option(
    "--liveness",
    default=None,
    metavar="URL",
    help="Serve liveness on this URL, e.g. http://0.0.0.0:8080/healthz.",
)
@POOL_LABEL_OPTION
@CLUSTER_DNS_OPTION
@CLUSTER_DOMAIN_OPTION
@click.option(
    "--renew-before-days",
    default=30,
    show_default=True,
    help="Renew tenant certificates this many days before they expire.",
)
@click.option(
    "--tenant-service-ranges",
    default=service_ranges.DEFAULT_POOL,
    show_default=True,
    metavar="CIDR",
    help="Pool of service addresses: each VirtualCluster's Services get a slice of it, "
    "which must not overlap the super-cluster's own service range.",
)
@click.option(
    "--tenant-service-prefix",
    default=service_ranges.DEFAULT_PREFIX,
    show_default=True,
    metavar="BITS",
    help="Prefix length of each VirtualCluster's slice of the pool.",
)
@click.option(
    "--embedded-syncer/--no-embedded-syncer",
    default=True,
    show_default=True,
    help="Run the syncer in the operator's process.",
)
@click.option(
    "--probes-port",
    default=0,
    show_default=True,
    help="Serve /readyz and /metrics on this port (0: off).",
)
@click.option(
    "--probes-host",
    default="0.0.0.0",  # noqa: S104 - in a pod, the kubelet probes the pod's address
    show_default=True,
    help="Address the probes listen on.",
)
def operator(
    *,
    kubeconfig: pathlib.Path | None,
    state_dir: pathlib.Path | None,
    default_provisioner: str,
    install_crds: bool,
    liveness: str | None,
    pool_label: str,
    cluster_dns: str | None,
    cluster_domain: str,
    renew_before_days: int,
    tenant_service_ranges: str,
    tenant_service_prefix: int,
    embedded_syncer: bool,
    probes_port: int,
    probes_host: str,
) -> None:
    """Run the VirtualCluster operator (until SIGTERM)."""
    from atoll.operator import main as operator_main  # noqa: PLC0415 - see the docstring

    try:
        service_ranges.check_pool(tenant_service_ranges, tenant_service_prefix)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--tenant-service-ranges") from error
    settings = operator_settings.Settings(
        state_dir=(state_dir or paths.state_dir()).expanduser().resolve(),
        default_provisioner="kubernetes" if default_provisioner == "kubernetes" else "process",
        renew_before=datetime.timedelta(days=renew_before_days),
        pool_label=pool_label,
        cluster_dns=cluster_dns,
        cluster_domain=cluster_domain,
        tenant_service_ranges=tenant_service_ranges,
        tenant_service_prefix=tenant_service_prefix,
    )
    runtime.run(
        operator_main.run(
            kubeconfig,
            settings,
            install_crds=install_crds,
            liveness=liveness,
            embedded_syncer=embedded_syncer,
            probes_address=(probes_host, probes_port) if probes_port else None,
        )
    )


@click.command()
@KUBECONFIG_OPTION
@click.option(
    "--shards",
    default=1,
    show_default=True,
    type=click.IntRange(1, 1024),
    help="How many syncer processes split the VirtualClusters between them.",
)
@click.option(
    "--shard",
    default=0,
    show_default=True,
    type=click.IntRange(0, 1023),
    help="Which one this is: it serves the VirtualClusters whose uid hashes to it.",
)
@click.option(
    "--patrol-interval",
    default=60.0,
    show_default=True,
    help="Seconds between full comparisons that repair drift and remove orphans.",
)
@POOL_LABEL_OPTION
@CLUSTER_DNS_OPTION
@CLUSTER_DOMAIN_OPTION
@METRICS_OPTION
def syncer(
    *,
    kubeconfig: pathlib.Path | None,
    shards: int,
    shard: int,
    patrol_interval: float,
    pool_label: str,
    cluster_dns: str | None,
    cluster_domain: str,
    metrics_port: int,
) -> None:
    """Run the syncer alone, beside an operator without it.

    The operator then runs with --no-embedded-syncer.
    """
    if shard >= shards:
        raise click.BadParameter(
            f"--shard {shard} must be below --shards {shards}", param_hint="--shard"
        )
    from atoll.operator import main as operator_main  # noqa: PLC0415 - see the docstring

    _serve_metrics(metrics_port)
    access = config.load(kubeconfig)
    runtime.run(
        operator_main.run_syncer(
            access,
            pool_label=pool_label,
            shards=shards,
            shard=shard,
            patrol_interval=patrol_interval,
            cluster_dns=cluster_dns,
            cluster_domain=cluster_domain,
        )
    )


def _serve_metrics(port: int) -> None:
    if port:
        prometheus_client.start_http_server(port)
