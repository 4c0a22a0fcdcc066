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
) -> Component:
    client_url = f"https://127.0.0.1:{ports['etcd']}"
    peer_url = f"http://127.0.0.1:{ports['etcd-peer']}"
    return Component(
        name="etcd",
        argv=(
            str(binary),
            "--name=atoll-super",
            f"--data-dir={data_dir}",
            f"--listen-client-urls={client_url}",
            f"--advertise-client-urls={client_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=atoll-super={peer_url}",
            f"--cert-file={credentials.cert('etcd-server')}",
            f"--key-file={credentials.key('etcd-server')}",
            f"--trusted-ca-file={credentials.cert('etcd-ca')}",
            "--client-cert-auth=true",
            "--log-level=warn",
            "--quota-backend-bytes=4294967296",
        ),
        health_url=f"{client_url}/health",
        health_client="apiserver-etcd-client",
        health_ca="etcd-ca",
    )


def kube_apiserver(
    binary: pathlib.Path, credentials: creds.Credentials, ports: dict[str, int]
) -> Component:
    port = ports["kube-apiserver"]
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
            "--authorization-mode=Node,RBAC",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            "--allow-privileged=true",
            "--enable-priority-and-fairness=true",
            "--profiling=false",
            "--v=1",
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
) -> Component:
    port = ports["kube-controller-manager"]
    kubeconfig = credentials.kubeconfig("controller-manager")
    return Component(
        name="kube-controller-manager",
        argv=(
            str(binary),
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            f"--secure-port={port}",
            f"--tls-cert-file={credentials.cert('controller-manager-serving')}",
            f"--tls-private-key-file={credentials.key('controller-manager-serving')}",
            f"--service-account-private-key-file={credentials.service_account_key}",
            f"--root-ca-file={credentials.cert('ca')}",
            f"--cluster-signing-cert-file={credentials.cert('ca')}",
            f"--cluster-signing-key-file={credentials.key('ca')}",
            "--use-service-account-credentials=true",
            "--leader-elect=false",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--node-monitor-grace-period={node_monitor_grace_period}",
            "--controllers=*",
            "--profiling=false",
            "--v=1",
        ),
        health_url=f"https://127.0.0.1:{port}/healthz",
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
