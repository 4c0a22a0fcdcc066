"""Certificates, keys and kubeconfigs of the local super-cluster, kept under `<state>/pki`.

Everything is created on first start and reused afterwards: the CAs are never regenerated
(kubeconfigs handed out stay valid), leaf certificates are reissued only when they would
expire within `RENEW_BEFORE` or no longer match what the component needs.
"""

from __future__ import annotations

import dataclasses
import datetime
import pathlib

from atoll.core import pki
from atoll.core.kube import config

RENEW_BEFORE = datetime.timedelta(days=30)
LOOPBACK_NAMES = ("localhost",)
LOOPBACK_IPS = ("127.0.0.1",)
SERVICE_IP = "10.96.0.1"
API_SERVER_NAMES = (
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    *LOOPBACK_NAMES,
)

# (file name, CA, certificate) for every leaf the super-cluster needs.
_LEAVES: tuple[tuple[str, str, pki.CertSpec], ...] = (
    (
        "apiserver",
        "ca",
        pki.CertSpec(
            "kube-apiserver",
            dns_names=API_SERVER_NAMES,
            ip_addresses=(*LOOPBACK_IPS, SERVICE_IP),
            server=True,
        ),
    ),
    ("admin", "ca", pki.CertSpec("atoll-admin", organizations=("system:masters",), client=True)),
    ("controller-manager", "ca", pki.CertSpec("system:kube-controller-manager", client=True)),
    ("scheduler", "ca", pki.CertSpec("system:kube-scheduler", client=True)),
    (
        "node-simulator",
        "ca",
        pki.CertSpec("atoll:node-simulator", organizations=("system:masters",), client=True),
    ),
    (
        "controller-manager-serving",
        "ca",
        pki.CertSpec(
            "kube-controller-manager",
            dns_names=LOOPBACK_NAMES,
            ip_addresses=LOOPBACK_IPS,
            server=True,
        ),
    ),
    (
        "scheduler-serving",
        "ca",
        pki.CertSpec(
            "kube-scheduler", dns_names=LOOPBACK_NAMES, ip_addresses=LOOPBACK_IPS, server=True
        ),
    ),
    (
        "etcd-server",
        "etcd-ca",
        pki.CertSpec(
            "etcd", dns_names=LOOPBACK_NAMES, ip_addresses=LOOPBACK_IPS, server=True, client=True
        ),
    ),
    ("apiserver-etcd-client", "etcd-ca", pki.CertSpec("kube-apiserver-etcd-client", client=True)),
)

# Components that reach the API server with a kubeconfig of their own.
KUBECONFIG_USERS = ("admin", "controller-manager", "scheduler", "node-simulator")


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What the components need, as file paths plus the in-memory material for atoll."""

    folder: pathlib.Path
    pairs: dict[str, pki.KeyPair]

    def cert(self, name: str) -> pathlib.Path:
        return self.folder / f"{name}.crt"

    def key(self, name: str) -> pathlib.Path:
        return self.folder / f"{name}.key"

    @property
    def service_account_key(self) -> pathlib.Path:
        return self.folder / "service-account.key"

    @property
    def service_account_public_key(self) -> pathlib.Path:
        return self.folder / "service-account.pub"

    def kubeconfig(self, user: str) -> pathlib.Path:
        return self.folder / f"{user}.kubeconfig"

    def access(self, server: str, user: str = "admin") -> config.ClusterAccess:
        pair = self.pairs[user]
        return config.ClusterAccess(
            server=server,
            ca_pem=self.pairs["ca"].cert_pem,
            client_cert_pem=pair.cert_pem,
            client_key_pem=pair.key_pem,
        )


def ensure(folder: pathlib.Path) -> Credentials:
    """Create what is missing, renew what is due, keep everything else as it is."""
    pairs: dict[str, pki.KeyPair] = {}
    for ca_name, common_name in (("ca", "atoll-super-ca"), ("etcd-ca", "atoll-super-etcd-ca")):
        existing = pki.read_pem_files(folder, ca_name)
        pairs[ca_name] = pki.ensure_ca(existing, common_name)
        if pairs[ca_name] is not existing:
            pki.write_pem_files(folder, ca_name, pairs[ca_name])

    for name, ca_name, spec in _LEAVES:
        existing = pki.read_pem_files(folder, name)
        pairs[name] = pki.ensure_leaf(existing, pairs[ca_name], spec, renew_before=RENEW_BEFORE)
        if pairs[name] is not existing:
            pki.write_pem_files(folder, name, pairs[name])

    if pki.read_signing_key(folder, "service-account") is None:
        pki.write_signing_key(folder, "service-account", pki.new_signing_key())
    return Credentials(folder=folder, pairs=pairs)


def write_kubeconfigs(credentials: Credentials, server: str, admin_path: pathlib.Path) -> None:
    """Point every component's kubeconfig (and the admin's) at the API server's address."""
    for user in KUBECONFIG_USERS:
        config.write_kubeconfig(
            credentials.kubeconfig(user), credentials.access(server, user), name="atoll-super"
        )
    config.write_kubeconfig(admin_path, credentials.access(server), name="atoll-super")
