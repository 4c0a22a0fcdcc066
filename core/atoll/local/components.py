"""Command lines and health checks of the local super-cluster's components.

Each `Component` says how to start one process (its argv) and how to know it is serving
(an HTTPS health URL checked with the cluster's own CA). Everything listens on loopback only;
the API server advertises 127.0.0.1 so in-cluster clients are sent there too.
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys

from atoll.local import credentials as creds

SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DOMAIN = "cluster.local"


@dataclasses.dataclass(frozen=True)
class Component:
    """One process of the super-cluster, in the order they must start."""

    name: str
    argv: tuple[str, ...]
    health_url: str
    health_client: str | None = None  # which credentials to present to the health endpoint
    health_ca: str = "ca"


def etcd(
    binary: pathlib.Path,
    credentials: creds.Credentials,
    data_dir: pathlib.Path,
    ports: dict[str, int],
    *,
    member: str = "atoll-super",
    extra_args: tuple[str, ...] = (),
) -> Component:
    client_url = f"https://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    return Component(
        name="etcd",
        argv=(
            str(binary),
            f"--name={member}",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster={member}={peer_url}",
            f"--cert-file={credentials.cert('etcd-server')}",
            f"--key-file={credentials.key('etcd-server')}",
            f"--trusted-ca-file={credentials.cert('etcd-ca')}",
            "--client-cert-auth=true",
            "--log-level=warn",
            "--quota-backend-bytes=4294967296",
            *extra_args,
        ),
        health_url=f"{client_url}/health",
        health_client="apiserver-etcd-client",
        health_ca="etcd-ca",
    )


def kube_apiserver(
    binary: pathlib.Path,
    credentials: creds.Credentials,
    ports: dict[str, int],
    *,
    authorization_modes: str = "Node,RBAC",
    front_proxy: bool = False,
    service_range: str = SERVICE_CIDR,
    extra_args: tuple[str, ...] = (),
) -> Component:
    """The API server; tenants have no kubelets (no Node authorizer) but a front proxy, and
    a service range of their own."""
    port = ports["kube-apiserver"]
    proxy_args = (
        (
            f"--requestheader-client-ca-file={credentials.cert('front-proxy-ca')}",
            "--requestheader-allowed-names=front-proxy-client",
            "--requestheader-username-headers=X-Remote-User",
            "--requestheader-group-headers=X-Remote-Group",
            "--requestheader-extra-headers-prefix=X-Remote-Extra-",
            f"--proxy-client-cert-file={credentials.cert('front-proxy-client')}",
            f"--proxy-client-key-file={credentials.key('front-proxy-client')}",
        )
        if front_proxy
        else ()
    )
    return Component(
        name="kube-apiserver",
        argv=(
            str(binary),
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={port}",
            f"--etcd-servers=https://127.0.0.1:{ports['etcd']}",
            f"--etcd-cafile={credentials.cert('etcd-ca')}",
            f"--etcd-certfile={credentials.cert('apiserver-etcd-client')}",
            f"--etcd-keyfile={credentials.key('apiserver-etcd-client')}",
            f"--tls-cert-file={credentials.cert('apiserver')}",
            f"--tls-private-key-file={credentials.key('apiserver')}",
            f"--client-ca-file={credentials.cert('ca')}",
            f"--service-account-key-file={credentials.service_account_public_key}",
            f"--service-account-signing-key-file={credentials.service_account_key}",
            f"--service-account-issuer=https://kubernetes.default.svc.{CLUSTER_DOMAIN}",
            # Loopback cannot be published as the `kubernetes` Service's endpoint (the
            # reconciler refuses 127.0.0.0/8), and nothing here could route to it anyway.
            "--endpoint-reconciler-type=none",
            f"--authorization-mode={authorization_modes}",
            f"--service-cluster-ip-range={service_range}",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=true",
            "--profiling=false",
            "--v=1",
            *proxy_args,
            *extra_args,
        ),
        health_url=f"https://127.0.0.1:{port}/readyz",
        health_client="admin",
    )


def kube_controller_manager(
    binary: pathlib.Path,
    credentials: creds.Credentials,
    ports: dict[str, int],
    *,
    node_monitor_grace_period: str = "40s",
    controllers: str = "*",
    serving: bool = True,
    service_range: str = SERVICE_CIDR,
    extra_args: tuple[str, ...] = (),
) -> Component:
    """The controller-manager; without `serving` it opens no port (health is its process)."""
    kubeconfig = credentials.kubeconfig("controller-manager")
    serving_args: tuple[str, ...] = ("--secure-port=0",)
    health_url = ""
    if serving:
        port = ports["kube-controller-manager"]
        serving_args = (
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--tls-cert-file={credentials.cert('controller-manager-serving')}",
            f"--tls-private-key-file={credentials.key('controller-manager-serving')}",
        )
        health_url = f"https://127.0.0.1:{port}/healthz"
    return Component(
        name="kube-controller-manager",
        argv=(
            str(binary),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            *serving_args,
            f"--service-account-private-key-file={credentials.service_account_key}",
            f"--root-ca-file={credentials.cert('ca')}",
            f"--cluster-signing-cert-file={credentials.cert('ca')}",
            f"--cluster-signing-key-file={credentials.key('ca')}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            f"--service-cluster-ip-range={service_range}",
            f"--node-monitor-grace-period={node_monitor_grace_period}",
            f"--controllers={controllers}",
            "--profiling=false",
            "--v=1",
            *extra_args,
        ),
        health_url=health_url,
    )


def kine(
    binary: pathlib.Path,
    credentials: creds.Credentials,
    data_dir: pathlib.Path,
    ports: dict[str, int],
    *,
    extra_args: tuple[str, ...] = (),
) -> Component:
    """kine on SQLite: the etcd API for one API server, with the same TLS as etcd."""
    return Component(
        name="kine",
        argv=(
            str(binary),
            f"--endpoint=sqlite://{data_dir}/state.db?_journal=WAL&cache=shared",
            f"--listen-address=127.0.0.1:{ports['etcd']}",
            f"--server-cert-file={credentials.cert('etcd-server')}",
            f"--server-key-file={credentials.key('etcd-server')}",
            f"--trusted-ca-file={credentials.cert('etcd-ca')}",
            "--metrics-bind-address=0",
            *extra_args,
        ),
        # kine serves no plain health endpoint; the API server's readiness covers it.
        health_url="",
    )


def kube_scheduler(
    binary: pathlib.Path, credentials: creds.Credentials, ports: dict[str, int]
) -> Component:
    port = ports["kube-scheduler"]
    kubeconfig = credentials.kubeconfig("scheduler")
    return Component(
        name="kube-scheduler",
        argv=(
            str(binary),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--tls-cert-file={credentials.cert('scheduler-serving')}",
            f"--tls-private-key-file={credentials.key('scheduler-serving')}",
            "--leader-elect=false",
            "--profiling=false",
            "--v=1",
        ),
        health_url=f"https://127.0.0.1:{port}/healthz",
    )


def node_simulator(
    credentials: creds.Credentials, pools: str, control: pathlib.Path, pool_label: str
) -> Component:
    """The simulated kubelets; it reports health through the nodes it keeps Ready."""
    return Component(
        name="node-simulator",
        argv=(
            sys.executable,
            "-m",
            "atoll.local.nodesim",
            f"--kubeconfig={credentials.kubeconfig('node-simulator')}",
            f"--pools={pools}",
            f"--control={control}",
            f"--pool-label={pool_label}",
            "--log-format=json",
        ),
        health_url="",
    )


def operator(
    credentials: creds.Credentials,
    state_root: pathlib.Path,
    ports: dict[str, int],
    pool_label: str,
) -> Component:
    """The atoll operator (with its syncer), provisioning control planes as processes."""
    port = ports["atoll-operator"]
    return Component(
        name="atoll-operator",
        argv=(
            sys.executable,
            "-m",
            "atoll.cli",
            "--log-format=json",
            "operator",
            f"--kubeconfig={credentials.kubeconfig('admin')}",
            f"--state-dir={state_root}",
            "--default-provisioner=process",
            "--install-crds",
            f"--pool-label={pool_label}",
            f"--liveness=http://127.0.0.1:{port}/healthz",
            f"--probes-port={ports['atoll-operator-probes']}",
            "--probes-host=127.0.0.1",
        ),
        # Ready once its CRDs are installed and Kopf's handlers run.
        health_url=f"http://127.0.0.1:{ports['atoll-operator-probes']}/readyz",
    )
