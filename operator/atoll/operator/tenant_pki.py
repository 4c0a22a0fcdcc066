"""The certificates and keys of one tenant control plane, kept in super-cluster Secrets.

Two Secrets in the control-plane namespace: `atoll-ca` holds the CAs (cluster, front-proxy,
etcd) and is never regenerated once written; `atoll-certs` holds every leaf certificate and
the service-account signing key, renewed when due. Keys of both are `<name>.crt`/`<name>.key`.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import urllib.parse

from atoll.core import pki
from atoll.operator import plan as plans
from atoll.operator import service_ranges

CA_SECRET = "atoll-ca"  # noqa: S105 - the name of a Secret
CERTS_SECRET = "atoll-certs"  # noqa: S105 - the name of a Secret
CAS = {
    "ca": "atoll-tenant-ca",
    "front-proxy-ca": "atoll-front-proxy-ca",
    "etcd-ca": "atoll-etcd-ca",
}
SERVICE_ACCOUNT = "service-account"
API_SERVER_SERVICE = "apiserver"


def api_server_names(
    plan: plans.ControlPlanePlan, cluster_domain: str = "cluster.local"
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """DNS names and IP addresses the tenant API server answers to."""
    service_dns = f"{API_SERVER_SERVICE}.{plan.cluster_namespace}"
    dns = [
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        f"kubernetes.default.svc.{cluster_domain}",
        "localhost",
        service_dns,
        f"{service_dns}.svc",
        f"{service_dns}.svc.{cluster_domain}",
    ]
    # The tenant's `kubernetes` Service holds the first address of its service range.
    ips = ["127.0.0.1", service_ranges.gateway_address(plan.service_range)]
    extra = list(plan.cert_sans)
    if plan.endpoint:
        # "host", "host:port", "[v6]" or "[v6]:port": the host part is what must match.
        extra.append(_endpoint_host(plan.endpoint))
    for name in extra:
        try:
            ips.append(str(ipaddress.ip_address(name.strip("[]"))))
        except ValueError:
            dns.append(name)
    return tuple(dict.fromkeys(dns)), tuple(dict.fromkeys(ips))


def _endpoint_host(endpoint: str) -> str:
    try:
        return str(ipaddress.ip_address(endpoint))  # a bare address, IPv6 without brackets too
    except ValueError:
        return urllib.parse.urlsplit(f"//{endpoint}").hostname or endpoint


def leaf_specs(plan: plans.ControlPlanePlan) -> dict[str, tuple[str, pki.CertSpec]]:
    """Every leaf certificate: name → (signing CA, what it must say)."""
    dns, ips = api_server_names(plan)
    etcd_dns = (
        "localhost",
        f"etcd.{plan.cluster_namespace}",
        f"etcd.{plan.cluster_namespace}.svc",
        f"*.etcd.{plan.cluster_namespace}.svc",
    )
    return {
        "apiserver": (
            "ca",
            pki.CertSpec("kube-apiserver", dns_names=dns, ip_addresses=ips, server=True),
        ),
        "admin": (
            "ca",
            pki.CertSpec("atoll-admin", organizations=("system:masters",), client=True),
        ),
        "controller-manager": ("ca", pki.CertSpec("system:kube-controller-manager", client=True)),
        "syncer": (
            "ca",
            pki.CertSpec("atoll:syncer", organizations=("system:masters",), client=True),
        ),
        "front-proxy-client": ("front-proxy-ca", pki.CertSpec("front-proxy-client", client=True)),
        "etcd-server": (
            "etcd-ca",
            pki.CertSpec(
                "etcd", dns_names=etcd_dns, ip_addresses=("127.0.0.1",), server=True, client=True
            ),
        ),
        "etcd-peer": (
            "etcd-ca",
            pki.CertSpec(
                "etcd-peer",
                dns_names=etcd_dns,
                ip_addresses=("127.0.0.1",),
                server=True,
                client=True,
            ),
        ),
        "apiserver-etcd-client": (
            "etcd-ca",
            pki.CertSpec("kube-apiserver-etcd-client", client=True),
        ),
    }


class TenantPki:
    """The tenant's key material in memory, with its Secret form."""

    def __init__(self, pairs: dict[str, pki.KeyPair], signing_key: pki.SigningKey) -> None:
        self.pairs = pairs
        self.signing_key = signing_key

    def ca_data(self) -> dict[str, str]:
        return _encode({name: pair for name, pair in self.pairs.items() if name in CAS})

    def certs_data(self) -> dict[str, str]:
        data = _encode({name: pair for name, pair in self.pairs.items() if name not in CAS})
        data[f"{SERVICE_ACCOUNT}.key"] = _b64(self.signing_key.private_pem)
        data[f"{SERVICE_ACCOUNT}.pub"] = _b64(self.signing_key.public_pem)
        return data

    def files(self) -> dict[str, bytes]:
        """File name → content, for a control plane that reads its PKI from a folder."""
        files: dict[str, bytes] = {}
        for name, pair in self.pairs.items():
            files[f"{name}.crt"] = pair.cert_pem
            files[f"{name}.key"] = pair.key_pem
        files[f"{SERVICE_ACCOUNT}.key"] = self.signing_key.private_pem
        files[f"{SERVICE_ACCOUNT}.pub"] = self.signing_key.public_pem
        return files


def ensure(
    plan: plans.ControlPlanePlan,
    ca_data: dict[str, str] | None,
    certs_data: dict[str, str] | None,
    *,
    renew_before: datetime.timedelta,
) -> TenantPki:
    """Keep what exists and is still good, create or renew the rest."""
    existing = {**_decode(ca_data or {}), **_decode(certs_data or {})}
    pairs: dict[str, pki.KeyPair] = {}
    for name, common_name in CAS.items():
        pairs[name] = pki.ensure_ca(existing.get(name), common_name)
    for name, (ca_name, spec) in leaf_specs(plan).items():
        pairs[name] = pki.ensure_leaf(
            existing.get(name), pairs[ca_name], spec, renew_before=renew_before
        )

    raw = certs_data or {}
    private = raw.get(f"{SERVICE_ACCOUNT}.key")
    public = raw.get(f"{SERVICE_ACCOUNT}.pub")
    signing_key = (
        pki.SigningKey(base64.b64decode(private), base64.b64decode(public))
        if private and public
        else pki.new_signing_key()
    )
    return TenantPki(pairs, signing_key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _encode(pairs: dict[str, pki.KeyPair]) -> dict[str, str]:
    data: dict[str, str] = {}
    for name, pair in pairs.items():
        data[f"{name}.crt"] = _b64(pair.cert_pem)
        data[f"{name}.key"] = _b64(pair.key_pem)
    return data


def _decode(data: dict[str, str]) -> dict[str, pki.KeyPair]:
    pairs: dict[str, pki.KeyPair] = {}
    for key, value in data.items():
        name, _, suffix = key.rpartition(".")
        if suffix == "crt" and f"{name}.key" in data:
            pairs[name] = pki.KeyPair(
                base64.b64decode(value), base64.b64decode(data[f"{name}.key"])
            )
    return pairs
