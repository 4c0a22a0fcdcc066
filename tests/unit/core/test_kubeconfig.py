"""Kubeconfig files: what atoll writes, it (and kubectl's format) reads back."""

from __future__ import annotations

import pathlib

import pytest

from atoll.core import pki
from atoll.core.kube import config


@pytest.fixture(scope="module")
def access() -> config.ClusterAccess:
    authority = pki.new_ca("test-ca")
    client = pki.issue(
        authority, pki.CertSpec("tester", organizations=("system:masters",), client=True)
    )
    return config.ClusterAccess(
        server="https://127.0.0.1:6443",
        ca_pem=authority.cert_pem,
        client_cert_pem=client.cert_pem,
        client_key_pem=client.key_pem,
    )


def test_written_kubeconfig_reads_back_the_same_access(
    tmp_path: pathlib.Path, access: config.ClusterAccess
) -> None:
    path = tmp_path / "kubeconfig"

    config.write_kubeconfig(path, access, name="demo")

    assert config.load_kubeconfig(path) == access
    assert path.stat().st_mode & 0o777 == 0o600


def test_credentials_never_appear_in_repr(access: config.ClusterAccess) -> None:
    assert access.client_key_pem is not None
    assert access.client_key_pem.decode() not in repr(access)


def test_ssl_context_loads_the_client_certificate(access: config.ClusterAccess) -> None:
    context = access.ssl_context()

    assert context.verify_mode.name == "CERT_REQUIRED"
    assert context.check_hostname


def test_unknown_context_names_the_known_ones(
    tmp_path: pathlib.Path, access: config.ClusterAccess
) -> None:
    path = tmp_path / "kubeconfig"
    config.write_kubeconfig(path, access, name="demo")

    with pytest.raises(config.KubeconfigError, match=r"'elsewhere'.*contexts: demo"):
        config.load_kubeconfig(path, context="elsewhere")


def test_file_references_are_relative_to_the_kubeconfig(
    tmp_path: pathlib.Path, access: config.ClusterAccess
) -> None:
    (tmp_path / "ca.crt").write_bytes(access.ca_pem)
    (tmp_path / "kubeconfig").write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://h:1/', certificate-authority: ca.crt}}]\n"
        "users: [{name: u, user: {token: abc}}]\n"
        "contexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )

    loaded = config.load_kubeconfig(tmp_path / "kubeconfig")

    assert loaded.server == "https://h:1"
    assert loaded.ca_pem == access.ca_pem
    assert loaded.token == "abc"


def test_in_cluster_access_reads_the_service_account_and_follows_token_rotation(
    tmp_path: pathlib.Path,
) -> None:
    (tmp_path / "ca.crt").write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "token").write_text("first\n")

    access = config.in_cluster(
        tmp_path, {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}
    )

    assert access.server == "https://[fd00::1]:6443"
    assert access.ca_pem == b"-----BEGIN CERTIFICATE-----\n"
    assert access.bearer_token() == "first"
    (tmp_path / "token").write_text("rotated")
    assert access.bearer_token() == "rotated"
    rendered = config.parse_kubeconfig(config.render_kubeconfig(access, name="pod"))
    assert rendered.token_file == tmp_path / "token"


def test_outside_a_pod_without_a_kubeconfig_the_error_names_the_fix(
    tmp_path: pathlib.Path,
) -> None:
    with pytest.raises(config.KubeconfigError, match="--kubeconfig or set KUBECONFIG"):
        config.in_cluster(tmp_path, {})
