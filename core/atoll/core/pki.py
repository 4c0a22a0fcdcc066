"""X.509 certificates and keys for Kubernetes control planes.

The local super-cluster uses this module to create its CA, leaf certificates and
service-account signing key and to write them as PEM files under its state folder; the operator
uses it for each tenant control plane, whose material it keeps in Secrets. Both call the
`ensure_*` functions on every reconcile: they return what already exists whenever it is still
right, so certificates change only when they must. Everything here is pure apart from the file
helpers, and it uses the `cryptography` library only.
"""

from __future__ import annotations

import dataclasses
import datetime
import ipaddress
import os
import secrets
from typing import TYPE_CHECKING, TypeVar

from cryptography import exceptions, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509 import oid

if TYPE_CHECKING:
    import pathlib

_ExtensionT = TypeVar("_ExtensionT", bound=x509.ExtensionType)

# Certificates are valid from a little before their creation, so a node whose clock lags
# behind accepts them at once.
_CLOCK_SKEW = datetime.timedelta(minutes=5)

_PEM = serialization.Encoding.PEM


@dataclasses.dataclass(frozen=True)
class KeyPair:
    """A PEM certificate and its PEM private key."""

    cert_pem: bytes
    key_pem: bytes

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.cert_pem)

    @property
    def not_after(self) -> datetime.datetime:
        return self.certificate.not_valid_after_utc


@dataclasses.dataclass(frozen=True)
class CertSpec:
    """What a leaf certificate must say: subject, alternative names and usages."""

    common_name: str
    organizations: tuple[str, ...] = ()
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    server: bool = False
    client: bool = False
    validity: datetime.timedelta = datetime.timedelta(days=365)


@dataclasses.dataclass(frozen=True)
class SigningKey:
    """The key pair the API server signs and verifies service-account tokens with."""

    private_pem: bytes
    public_pem: bytes


def new_ca(
    common_name: str, *, validity: datetime.timedelta = datetime.timedelta(days=3650)
) -> KeyPair:
    """Create a self-signed certificate authority with a fresh key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid.NameOID.COMMON_NAME, common_name)])
    builder = (
        _builder(name, name, key.public_key(), validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    return KeyPair(builder.sign(key, hashes.SHA256()).public_bytes(_PEM), _private_pem(key))


def issue(ca: KeyPair, spec: CertSpec) -> KeyPair:
    """Create a leaf certificate for `spec` with a fresh key, signed by `ca`."""
    ca_cert = ca.certificate
    ca_key = _load_issuer_key(ca.key_pem)
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        _builder(_subject(spec), ca_cert.subject, key.public_key(), spec.validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(ca=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )

    # An empty ExtendedKeyUsage or SubjectAlternativeName is invalid, so both are left out.
    usages = _usages(spec)
    if usages:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage(sorted(usages, key=lambda u: u.dotted_string)), critical=False
        )
    names: list[x509.GeneralName] = [x509.DNSName(dns) for dns in spec.dns_names]
    names += [x509.IPAddress(ip) for ip in _ip_addresses(spec)]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)

    return KeyPair(builder.sign(ca_key, hashes.SHA256()).public_bytes(_PEM), _private_pem(key))


def new_signing_key() -> SigningKey:
    """Create a key pair for signing service-account tokens (ES256)."""
    key = ec.generate_private_key(ec.SECP256R1())
    public_pem = key.public_key().public_bytes(
        _PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return SigningKey(private_pem=_private_pem(key), public_pem=public_pem)


def ensure_ca(existing: KeyPair | None, common_name: str) -> KeyPair:
    """Return `existing` if it is a usable CA, else a new one.

    An existing CA is kept even close to its expiry: replacing it would invalidate every
    certificate and kubeconfig it signed, which is a decision for a person, not a reconcile.
    """
    if existing is not None and _is_usable_ca(existing):
        return existing
    return new_ca(common_name)


def ensure_leaf(
    existing: KeyPair | None,
    ca: KeyPair,
    spec: CertSpec,
    *,
    renew_before: datetime.timedelta,
    now: datetime.datetime | None = None,
) -> KeyPair:
    """Return `existing` if it is signed by `ca`, matches `spec` and is not due; else reissue."""
    if (
        existing is not None
        and _leaf_matches(existing, ca, spec)
        and not needs_renewal(existing, renew_before=renew_before, now=now)
    ):
        return existing
    return issue(ca, spec)


def needs_renewal(
    pair: KeyPair, *, renew_before: datetime.timedelta, now: datetime.datetime | None = None
) -> bool:
    """Tell whether `pair` expires within `renew_before` of `now` (default: the current time)."""
    moment = now if now is not None else datetime.datetime.now(datetime.UTC)
    return pair.not_after - renew_before <= moment


def write_pem_files(
    directory: pathlib.Path, name: str, pair: KeyPair
) -> tuple[pathlib.Path, pathlib.Path]:
    """Write `<name>.crt` and `<name>.key` into `directory`, each atomically and owner-only.

    The key goes first; if a crash falls between the two, the next `ensure_leaf` sees a key
    that does not match the certificate and reissues both.
    """
    key_path = _write_private(directory, f"{name}.key", pair.key_pem)
    cert_path = _write_private(directory, f"{name}.crt", pair.cert_pem)
    return cert_path, key_path


def read_pem_files(directory: pathlib.Path, name: str) -> KeyPair | None:
    """Read `<name>.crt` and `<name>.key` from `directory`; None if either is missing."""
    pems = _read_both(directory / f"{name}.crt", directory / f"{name}.key")
    return KeyPair(*pems) if pems is not None else None


def write_signing_key(
    directory: pathlib.Path, name: str, key: SigningKey
) -> tuple[pathlib.Path, pathlib.Path]:
    """Write `<name>.key` and `<name>.pub` into `directory`; return (private, public) paths."""
    private_path = _write_private(directory, f"{name}.key", key.private_pem)
    public_path = _write_private(directory, f"{name}.pub", key.public_pem)
    return private_path, public_path


def read_signing_key(directory: pathlib.Path, name: str) -> SigningKey | None:
    """Read `<name>.key` and `<name>.pub` from `directory`; None if either is missing."""
    pems = _read_both(directory / f"{name}.key", directory / f"{name}.pub")
    return SigningKey(*pems) if pems is not None else None


def _builder(
    subject: x509.Name,
    issuer: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    validity: datetime.timedelta,
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + validity)
    )


def _key_usage(*, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=not ca,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _subject(spec: CertSpec) -> x509.Name:
    attributes = [x509.NameAttribute(oid.NameOID.COMMON_NAME, spec.common_name)]
    attributes += [x509.NameAttribute(oid.NameOID.ORGANIZATION_NAME, o) for o in spec.organizations]
    return x509.Name(attributes)


def _usages(spec: CertSpec) -> set[x509.ObjectIdentifier]:
    usages = set()
    if spec.server:
        usages.add(oid.ExtendedKeyUsageOID.SERVER_AUTH)
    if spec.client:
        usages.add(oid.ExtendedKeyUsageOID.CLIENT_AUTH)
    return usages


def _ip_addresses(spec: CertSpec) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    return [ipaddress.ip_address(ip) for ip in spec.ip_addresses]


def _is_usable_ca(pair: KeyPair) -> bool:
    try:
        cert = pair.certificate
        key = _load_issuer_key(pair.key_pem)
    except ValueError:
        return False
    constraints = _extension(cert, x509.BasicConstraints)
    return constraints is not None and constraints.ca and cert.public_key() == key.public_key()


def _leaf_matches(pair: KeyPair, ca: KeyPair, spec: CertSpec) -> bool:
    try:
        cert = pair.certificate
        key = serialization.load_pem_private_key(pair.key_pem, password=None)
        cert.verify_directly_issued_by(ca.certificate)
    except (ValueError, TypeError, exceptions.InvalidSignature):
        return False

    usages = _extension(cert, x509.ExtendedKeyUsage) or x509.ExtendedKeyUsage([])
    names = _extension(cert, x509.SubjectAlternativeName) or x509.SubjectAlternativeName([])
    return (
        _attributes(cert, oid.NameOID.COMMON_NAME) == [spec.common_name]
        and set(_attributes(cert, oid.NameOID.ORGANIZATION_NAME)) == set(spec.organizations)
        and set(usages) == _usages(spec)
        and set(names.get_values_for_type(x509.DNSName)) == set(spec.dns_names)
        and set(names.get_values_for_type(x509.IPAddress)) == set(_ip_addresses(spec))
        and cert.public_key() == key.public_key()
    )


def _attributes(cert: x509.Certificate, attribute: x509.ObjectIdentifier) -> list[str | bytes]:
    return [a.value for a in cert.subject.get_attributes_for_oid(attribute)]


def _extension(cert: x509.Certificate, kind: type[_ExtensionT]) -> _ExtensionT | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _load_issuer_key(pem: bytes) -> ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey:
    # RSA is accepted so that a CA made by another tool (kubeadm's default) can still sign.
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError(f"unsupported CA key type: {type(key).__name__}")
    return key


def _private_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(_PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _write_private(directory: pathlib.Path, filename: str, content: bytes) -> pathlib.Path:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    target = directory / filename

    # The temporary file is owner-only from its creation and replaces the target in one step,
    # so no reader ever sees a world-readable key or half a file.
    temporary = directory / f".{filename}.{secrets.token_hex(8)}.tmp"
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(content)
            stream.flush()
            os.fsync(stream.fileno())
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return target


def _read_both(first: pathlib.Path, second: pathlib.Path) -> tuple[bytes, bytes] | None:
    try:
        return first.read_bytes(), second.read_bytes()
    except FileNotFoundError:
        return None
