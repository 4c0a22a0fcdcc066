"""Unit tests for `atoll.operator.tenant_pki`: the names served, issuance and idempotent reuse."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509 import oid

from atoll.operator import plan as plans
from atoll.operator import tenant_pki

UID = "6f1c3a52-0d8e-4c5b-9a7e-2b1d4f6e8c90"
OTHER_UID = "0b7d2e14-93a1-4f6c-8e25-7c4a9d1b3f08"
RENEW_BEFORE = datetime.timedelta(days=30)


def virtual_cluster(
    *, uid: str = UID, cert_sans: tuple[str, ...] = (), endpoint: str | None = None
) -> dict[str, Any]:
    control_plane: dict[str, Any] = {"certSANs": list(cert_sans)}
    if endpoint is not None:
        control_plane["endpoint"] = endpoint
    return {
        "metadata": {"name": "dev", "namespace": "team-a", "uid": uid},
        "spec": {"controlPlane": control_plane},
    }


def cluster_version() -> dict[str, Any]:
    return {"metadata": {"name": "default"}, "spec": {"kubernetesVersion": "v1.37.2"}}


def make_plan(
    *, uid: str = UID, cert_sans: tuple[str, ...] = (), endpoint: str | None = None
) -> plans.ControlPlanePlan:
    vc = virtual_cluster(uid=uid, cert_sans=cert_sans, endpoint=endpoint)
    return plans.build(vc, cluster_version(), default_provisioner="process")


def issue(plan: plans.ControlPlanePlan) -> tenant_pki.TenantPki:
    return tenant_pki.ensure(plan, None, None, renew_before=RENEW_BEFORE)


def again(plan: plans.ControlPlanePlan, material: tenant_pki.TenantPki) -> tenant_pki.TenantPki:
    """What the next reconcile makes of `material`, read back from its Secrets."""
    return tenant_pki.ensure(
        plan, material.ca_data(), material.certs_data(), renew_before=RENEW_BEFORE
    )


def subject_values(cert: x509.Certificate, attribute: x509.ObjectIdentifier) -> list[str]:
    return [str(item.value) for item in cert.subject.get_attributes_for_oid(attribute)]


def alternative_names(cert: x509.Certificate) -> tuple[set[str], set[str]]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    dns = set(names.get_values_for_type(x509.DNSName))
    ips = {str(ip) for ip in names.get_values_for_type(x509.IPAddress)}
    return dns, ips


def is_ca(cert: x509.Certificate) -> bool:
    return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_api_server_names_cover_in_cluster_service_and_loopback_addresses() -> None:
    plan = make_plan()
    namespace = plan.cluster_namespace

    dns, ips = tenant_pki.api_server_names(plan)

    assert {
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster.local",
        f"apiserver.{namespace}",
        f"apiserver.{namespace}.svc",
        f"apiserver.{namespace}.svc.cluster.local",
    } <= set(dns)
    assert "127.0.0.1" in ips


def test_api_server_names_follow_the_cluster_domain() -> None:
    plan = make_plan()

    dns, _ = tenant_pki.api_server_names(plan, cluster_domain="tenant.example")

    assert "kubernetes.default.svc.tenant.example" in dns
    assert f"apiserver.{plan.cluster_namespace}.svc.tenant.example" in dns
    assert "kubernetes.default.svc.cluster.local" not in dns


def test_cert_sans_are_split_into_dns_names_and_ip_addresses() -> None:
    plan = make_plan(
        cert_sans=("api.example.com", "*.vc.example.com", "203.0.113.7", "2001:DB8::7", "[::1]")
    )

    dns, ips = tenant_pki.api_server_names(plan)

    assert {"api.example.com", "*.vc.example.com"} <= set(dns)
    assert {"203.0.113.7", "2001:db8::7", "::1"} <= set(ips)
    assert not {"203.0.113.7", "2001:DB8::7", "[::1]"} & set(dns)


def test_names_given_twice_are_listed_once() -> None:
    plan = make_plan(
        cert_sans=("kubernetes", "127.0.0.1", "api.example.com"), endpoint="api.example.com"
    )

    dns, ips = tenant_pki.api_server_names(plan)

    assert len(dns) == len(set(dns))
    assert len(ips) == len(set(ips))


@pytest.mark.parametrize(
    ("endpoint", "dns_name", "ip_address"),
    [
        ("vc1.example.com:6443", "vc1.example.com", None),
        ("vc1.example.com", "vc1.example.com", None),
        ("203.0.113.7:6443", None, "203.0.113.7"),
        ("203.0.113.7", None, "203.0.113.7"),
        ("2001:db8::1", None, "2001:db8::1"),
        ("[2001:db8::1]", None, "2001:db8::1"),
    ],
    ids=["dns-with-port", "dns", "ipv4-with-port", "ipv4", "ipv6", "bracketed-ipv6"],
)
def test_endpoint_host_is_served_without_its_port(
    endpoint: str, dns_name: str | None, ip_address: str | None
) -> None:
    plain_dns, plain_ips = tenant_pki.api_server_names(make_plan())

    dns, ips = tenant_pki.api_server_names(make_plan(endpoint=endpoint))

    assert set(dns) - set(plain_dns) == ({dns_name} if dns_name else set())
    assert set(ips) - set(plain_ips) == ({ip_address} if ip_address else set())


def test_bracketed_ipv6_endpoint_with_port_is_served_as_its_ip_address() -> None:
    dns, ips = tenant_pki.api_server_names(make_plan(endpoint="[2001:db8::1]:6443"))

    assert "2001:db8::1" in ips
    assert not [name for name in dns if "2001" in name]


def test_ensure_from_nothing_issues_every_ca_and_leaf() -> None:
    plan = make_plan()
    specs = tenant_pki.leaf_specs(plan)

    material = issue(plan)

    assert set(material.pairs) == set(tenant_pki.CAS) | set(specs)
    for name, common_name in tenant_pki.CAS.items():
        cert = material.pairs[name].certificate
        assert is_ca(cert), name
        assert subject_values(cert, oid.NameOID.COMMON_NAME) == [common_name]
    for name, (ca_name, spec) in specs.items():
        cert = material.pairs[name].certificate
        cert.verify_directly_issued_by(material.pairs[ca_name].certificate)
        assert not is_ca(cert), name
        assert subject_values(cert, oid.NameOID.COMMON_NAME) == [spec.common_name]


def test_ensure_from_nothing_makes_a_matching_service_account_key_pair() -> None:
    material = issue(make_plan())

    private = serialization.load_pem_private_key(material.signing_key.private_pem, password=None)

    assert (
        private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        == material.signing_key.public_pem
    )


def test_secret_data_keeps_cas_apart_from_leaves_and_the_service_account_key() -> None:
    plan = make_plan()
    material = issue(plan)

    ca_keys = set(material.ca_data())
    certs_keys = set(material.certs_data())

    assert ca_keys == {f"{name}.{suffix}" for name in tenant_pki.CAS for suffix in ("crt", "key")}
    assert certs_keys == {
        f"{name}.{suffix}" for name in tenant_pki.leaf_specs(plan) for suffix in ("crt", "key")
    } | {"service-account.key", "service-account.pub"}


def test_ensure_on_its_own_secret_data_changes_nothing() -> None:
    plan = make_plan(cert_sans=("api.example.com", "2001:db8::7"), endpoint="api.example.com:6443")
    first = issue(plan)

    second = again(plan, first)

    assert second.ca_data() == first.ca_data()
    assert second.certs_data() == first.certs_data()
    assert second.signing_key == first.signing_key
    assert second.files() == first.files()


def test_ensure_keeps_the_cas_and_issues_the_missing_leaves() -> None:
    plan = make_plan()
    first = issue(plan)

    second = tenant_pki.ensure(plan, first.ca_data(), None, renew_before=RENEW_BEFORE)

    assert second.ca_data() == first.ca_data()
    for name, (ca_name, _) in tenant_pki.leaf_specs(plan).items():
        assert second.pairs[name].cert_pem != first.pairs[name].cert_pem, name
        second.pairs[name].certificate.verify_directly_issued_by(second.pairs[ca_name].certificate)
    assert second.signing_key != first.signing_key


def test_a_new_cert_san_reissues_only_the_apiserver_certificate() -> None:
    first = issue(make_plan())
    wider = make_plan(cert_sans=("api.example.com",))

    second = again(wider, first)

    changed = {name for name, pair in second.pairs.items() if pair != first.pairs[name]}
    assert changed == {"apiserver"}
    dns, _ = alternative_names(second.pairs["apiserver"].certificate)
    assert "api.example.com" in dns


def test_admin_certificate_is_in_system_masters() -> None:
    material = issue(make_plan())

    admin = material.pairs["admin"].certificate

    assert subject_values(admin, oid.NameOID.ORGANIZATION_NAME) == ["system:masters"]
    usages = admin.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [oid.ExtendedKeyUsageOID.CLIENT_AUTH]


def test_apiserver_certificate_verifies_against_the_tenant_ca_and_names_its_addresses() -> None:
    plan = make_plan(cert_sans=("2001:db8::7",), endpoint="api.example.com:6443")
    material = issue(plan)

    apiserver = material.pairs["apiserver"].certificate

    apiserver.verify_directly_issued_by(material.pairs["ca"].certificate)
    dns, ips = tenant_pki.api_server_names(plan)
    assert alternative_names(apiserver) == (set(dns), set(ips))
    assert ipaddress.ip_address("2001:db8::7") in {ipaddress.ip_address(ip) for ip in ips}


def test_two_virtual_clusters_get_different_cas() -> None:
    first = issue(make_plan(uid=UID))
    second = issue(make_plan(uid=OTHER_UID))

    for name in tenant_pki.CAS:
        assert first.pairs[name].cert_pem != second.pairs[name].cert_pem, name
        assert first.pairs[name].key_pem != second.pairs[name].key_pem, name
    assert first.signing_key != second.signing_key


def test_files_hold_every_pem_under_its_secret_key_name() -> None:
    material = issue(make_plan())

    files = material.files()

    assert set(files) == set(material.ca_data()) | set(material.certs_data())
    assert files["ca.crt"] == material.pairs["ca"].cert_pem
    assert files["service-account.pub"] == material.signing_key.public_pem


def test_the_api_server_answers_to_the_first_address_of_its_service_range() -> None:
    plan = dataclasses.replace(make_plan(), service_range="10.112.32.0/20")

    _, ips = tenant_pki.api_server_names(plan)

    assert "10.112.32.1" in ips
    assert "10.96.0.1" not in ips
