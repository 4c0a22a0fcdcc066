"""Unit tests for `atoll.core.pki`: CA and leaf issuance, reuse decisions and PEM files."""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import stat
from typing import TYPE_CHECKING, TypeVar

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import oid

from atoll.core import pki

if TYPE_CHECKING:
    import pathlib

ExtensionT = TypeVar("ExtensionT", bound=x509.ExtensionType)

RENEW_BEFORE = datetime.timedelta(days=30)

APISERVER = pki.CertSpec(
    common_name="kube-apiserver",
    dns_names=("kubernetes", "kubernetes.default.svc"),
    ip_addresses=("10.96.0.1", "127.0.0.1"),
    server=True,
)

ADMIN = pki.CertSpec(common_name="atoll-admin", organizations=("system:masters",), client=True)


def extension_value(cert: x509.Certificate, kind: type[ExtensionT]) -> ExtensionT:
    return cert.extensions.get_extension_for_class(kind).value


def test_new_ca_is_a_self_signed_ca() -> None:
    ca = pki.new_ca("atoll-ca")
    cert = ca.certificate

    assert extension_value(cert, x509.BasicConstraints).ca
    assert extension_value(cert, x509.KeyUsage).key_cert_sign
    assert cert.subject == cert.issuer
    cert.verify_directly_issued_by(cert)
    assert cert.not_valid_after_utc.tzinfo is not None


def test_issued_leaf_verifies_against_its_ca() -> None:
    ca = pki.new_ca("atoll-ca")

    leaf = pki.issue(ca, APISERVER)

    leaf.certificate.verify_directly_issued_by(ca.certificate)
    assert not extension_value(leaf.certificate, x509.BasicConstraints).ca


def test_issued_leaf_carries_exactly_the_names_asked() -> None:
    leaf = pki.issue(pki.new_ca("atoll-ca"), APISERVER)

    names = extension_value(leaf.certificate, x509.SubjectAlternativeName)
    assert set(names.get_values_for_type(x509.DNSName)) == {"kubernetes", "kubernetes.default.svc"}
    assert set(names.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("10.96.0.1"),
        ipaddress.ip_address("127.0.0.1"),
    }
    assert list(extension_value(leaf.certificate, x509.ExtendedKeyUsage)) == [
        oid.ExtendedKeyUsageOID.SERVER_AUTH
    ]


def test_issued_client_leaf_carries_its_organization_and_client_usage_only() -> None:
    leaf = pki.issue(pki.new_ca("atoll-ca"), ADMIN)
    subject = leaf.certificate.subject

    organizations = subject.get_attributes_for_oid(oid.NameOID.ORGANIZATION_NAME)
    assert [o.value for o in organizations] == ["system:masters"]
    assert list(extension_value(leaf.certificate, x509.ExtendedKeyUsage)) == [
        oid.ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    extensions = {type(e.value) for e in leaf.certificate.extensions}
    assert x509.SubjectAlternativeName not in extensions


def test_ensure_ca_keeps_an_existing_ca_byte_for_byte() -> None:
    ca = pki.new_ca("atoll-ca")

    assert pki.ensure_ca(ca, "atoll-ca") is ca


def test_ensure_ca_keeps_an_existing_ca_near_expiry() -> None:
    ca = pki.new_ca("atoll-ca", validity=datetime.timedelta(hours=1))

    kept = pki.ensure_ca(ca, "atoll-ca")

    assert (kept.cert_pem, kept.key_pem) == (ca.cert_pem, ca.key_pem)


def test_ensure_ca_creates_a_ca_when_none_exists() -> None:
    ca = pki.ensure_ca(None, "atoll-ca")

    assert extension_value(ca.certificate, x509.BasicConstraints).ca


def test_ensure_ca_replaces_a_leaf_posing_as_ca() -> None:
    leaf = pki.issue(pki.new_ca("atoll-ca"), ADMIN)

    ca = pki.ensure_ca(leaf, "atoll-ca")

    assert ca.cert_pem != leaf.cert_pem
    assert extension_value(ca.certificate, x509.BasicConstraints).ca


def test_ensure_leaf_keeps_a_valid_leaf() -> None:
    ca = pki.new_ca("atoll-ca")
    leaf = pki.issue(ca, APISERVER)

    assert pki.ensure_leaf(leaf, ca, APISERVER, renew_before=RENEW_BEFORE) is leaf


def test_ensure_leaf_keeps_a_leaf_whose_names_come_in_another_order() -> None:
    ca = pki.new_ca("atoll-ca")
    leaf = pki.issue(ca, APISERVER)
    reordered = dataclasses.replace(
        APISERVER,
        dns_names=tuple(reversed(APISERVER.dns_names)),
        ip_addresses=tuple(reversed(APISERVER.ip_addresses)),
    )

    assert pki.ensure_leaf(leaf, ca, reordered, renew_before=RENEW_BEFORE) is leaf


def test_ensure_leaf_reissues_a_leaf_near_expiry() -> None:
    ca = pki.new_ca("atoll-ca")
    leaf = pki.issue(ca, APISERVER)
    later = leaf.not_after - datetime.timedelta(days=1)

    renewed = pki.ensure_leaf(leaf, ca, APISERVER, renew_before=RENEW_BEFORE, now=later)

    assert renewed.cert_pem != leaf.cert_pem
    renewed.certificate.verify_directly_issued_by(ca.certificate)


def test_ensure_leaf_reissues_when_names_changed() -> None:
    ca = pki.new_ca("atoll-ca")
    leaf = pki.issue(ca, APISERVER)
    wider = dataclasses.replace(APISERVER, dns_names=(*APISERVER.dns_names, "api.example"))

    renewed = pki.ensure_leaf(leaf, ca, wider, renew_before=RENEW_BEFORE)

    names = extension_value(renewed.certificate, x509.SubjectAlternativeName)
    assert "api.example" in names.get_values_for_type(x509.DNSName)


def test_ensure_leaf_reissues_when_usages_changed() -> None:
    ca = pki.new_ca("atoll-ca")
    leaf = pki.issue(ca, APISERVER)
    both = dataclasses.replace(APISERVER, client=True)

    renewed = pki.ensure_leaf(leaf, ca, both, renew_before=RENEW_BEFORE)

    assert set(extension_value(renewed.certificate, x509.ExtendedKeyUsage)) == {
        oid.ExtendedKeyUsageOID.SERVER_AUTH,
        oid.ExtendedKeyUsageOID.CLIENT_AUTH,
    }


def test_ensure_leaf_reissues_a_leaf_signed_by_another_ca() -> None:
    ca = pki.new_ca("atoll-ca")
    leaf = pki.issue(pki.new_ca("atoll-ca"), APISERVER)

    renewed = pki.ensure_leaf(leaf, ca, APISERVER, renew_before=RENEW_BEFORE)

    assert renewed.cert_pem != leaf.cert_pem
    renewed.certificate.verify_directly_issued_by(ca.certificate)


def test_ensure_leaf_reissues_when_the_key_does_not_match_the_certificate() -> None:
    ca = pki.new_ca("atoll-ca")
    leaf = pki.issue(ca, APISERVER)
    mismatched = pki.KeyPair(cert_pem=leaf.cert_pem, key_pem=pki.issue(ca, APISERVER).key_pem)

    renewed = pki.ensure_leaf(mismatched, ca, APISERVER, renew_before=RENEW_BEFORE)

    assert renewed.cert_pem != leaf.cert_pem


def test_ensure_leaf_reissues_unparseable_material() -> None:
    ca = pki.new_ca("atoll-ca")
    garbage = pki.KeyPair(cert_pem=b"not a certificate", key_pem=b"not a key")

    renewed = pki.ensure_leaf(garbage, ca, APISERVER, renew_before=RENEW_BEFORE)

    renewed.certificate.verify_directly_issued_by(ca.certificate)


def test_needs_renewal_only_within_the_window() -> None:
    leaf = pki.issue(pki.new_ca("atoll-ca"), APISERVER)
    window_opens = leaf.not_after - RENEW_BEFORE

    early = window_opens - datetime.timedelta(seconds=1)
    assert not pki.needs_renewal(leaf, renew_before=RENEW_BEFORE, now=early)
    assert pki.needs_renewal(leaf, renew_before=RENEW_BEFORE, now=window_opens)


def test_pem_files_are_owner_only_and_read_back_equal(tmp_path: pathlib.Path) -> None:
    pair = pki.issue(pki.new_ca("atoll-ca"), APISERVER)
    directory = tmp_path / "pki"

    cert_path, key_path = pki.write_pem_files(directory, "apiserver", pair)

    assert (cert_path.name, key_path.name) == ("apiserver.crt", "apiserver.key")
    assert stat.S_IMODE(cert_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) & 0o077 == 0
    assert sorted(p.name for p in directory.iterdir()) == ["apiserver.crt", "apiserver.key"]
    assert pki.read_pem_files(directory, "apiserver") == pair


def test_pem_files_overwrite_a_previous_pair(tmp_path: pathlib.Path) -> None:
    ca = pki.new_ca("atoll-ca")
    pki.write_pem_files(tmp_path, "apiserver", pki.issue(ca, APISERVER))
    newer = pki.issue(ca, APISERVER)

    pki.write_pem_files(tmp_path, "apiserver", newer)

    assert pki.read_pem_files(tmp_path, "apiserver") == newer


def test_read_pem_files_returns_none_when_a_file_is_missing(tmp_path: pathlib.Path) -> None:
    pki.write_pem_files(tmp_path, "apiserver", pki.new_ca("atoll-ca"))
    (tmp_path / "apiserver.key").unlink()

    assert pki.read_pem_files(tmp_path, "apiserver") is None
    assert pki.read_pem_files(tmp_path / "absent", "apiserver") is None


def test_signing_key_round_trips_with_owner_only_files(tmp_path: pathlib.Path) -> None:
    key = pki.new_signing_key()

    private_path, public_path = pki.write_signing_key(tmp_path, "sa", key)

    assert (private_path.name, public_path.name) == ("sa.key", "sa.pub")
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(public_path.stat().st_mode) == 0o600
    assert pki.read_signing_key(tmp_path, "sa") == key
    assert pki.read_signing_key(tmp_path, "other") is None


def test_signing_key_public_half_verifies_the_private_half() -> None:
    key = pki.new_signing_key()
    private = serialization.load_pem_private_key(key.private_pem, password=None)
    public = serialization.load_pem_public_key(key.public_pem)
    assert isinstance(private, ec.EllipticCurvePrivateKey)
    assert isinstance(public, ec.EllipticCurvePublicKey)

    signature = private.sign(b"token", ec.ECDSA(hashes.SHA256()))

    public.verify(signature, b"token", ec.ECDSA(hashes.SHA256()))
    assert public == private.public_key()
