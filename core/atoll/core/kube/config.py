"""How to reach one Kubernetes API server: kubeconfig files in, TLS settings out.

`ClusterAccess` is the address plus credentials of one API server as atoll uses it (client
certificates or a bearer token, always a CA). It is read from and written to kubeconfig files
here, or, inside a pod, taken from the pod's service account (`in_cluster`), and turned into
an `ssl.SSLContext` for the HTTP client. A token kept in a file is read again for every
request, since the kubelet rotates it.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import pathlib
import ssl
import tempfile
from collections.abc import Mapping
from typing import Any

import yaml

SERVICE_ACCOUNT = pathlib.Path("/var/run/secrets/kubernetes.io/serviceaccount")


class KubeconfigError(Exception):
    """A kubeconfig file is missing, unreadable, or lacks what atoll needs."""


@dataclasses.dataclass(frozen=True)
class ClusterAccess:
    """Server address and credentials; PEM bytes are kept in memory, never in logs."""

    server: str
    ca_pem: bytes
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = dataclasses.field(default=None, repr=False)
    token: str | None = dataclasses.field(default=None, repr=False)
    token_file: pathlib.Path | None = None

    def bearer_token(self) -> str | None:
        """The token to present now: from `token_file` when there is one, read afresh."""
        if self.token_file is not None:
            return self.token_file.read_text().strip()
        return self.token

    def ssl_context(self) -> ssl.SSLContext:
        """A verifying TLS context that presents the client certificate, if there is one."""
        context = ssl.create_default_context(cadata=self.ca_pem.decode())
        if self.client_cert_pem and self.client_key_pem:
            _load_client_certificate(context, self.client_cert_pem, self.client_key_pem)
        return context


def _load_client_certificate(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    # The ssl module reads client certificates only from files: use a private, short-lived one.
    with tempfile.TemporaryDirectory(prefix="atoll-tls-") as private_dir:
        bundle = pathlib.Path(private_dir) / "client.pem"
        descriptor = os.open(bundle, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(cert_pem + b"\n" + key_pem)
        context.load_cert_chain(bundle)


def _data_or_file(entry: dict[str, Any], key: str, base: pathlib.Path) -> bytes | None:
    if data := entry.get(f"{key}-data"):
        return base64.b64decode(data)
    if file_name := entry.get(key):
        return (base / str(file_name)).read_bytes()
    return None


def load_kubeconfig(path: pathlib.Path, context: str | None = None) -> ClusterAccess:
    """Read one context (the current one by default) of a kubeconfig file."""
    try:
        text = path.read_text()
    except OSError as error:
        raise KubeconfigError(f"cannot read kubeconfig {path}: {error}") from error
    return parse_kubeconfig(text, context, base=path.parent, source=str(path))


def parse_kubeconfig(
    text: str,
    context: str | None = None,
    *,
    base: pathlib.Path | None = None,
    source: str = "kubeconfig",
) -> ClusterAccess:
    """One context of a kubeconfig document; file references are relative to `base`."""
    try:
        document = yaml.safe_load(text) or {}
    except yaml.YAMLError as error:
        raise KubeconfigError(f"cannot parse {source}: {error}") from error

    context_name = context or document.get("current-context")
    contexts = {item["name"]: item["context"] for item in document.get("contexts") or []}
    if context_name not in contexts:
        known = ", ".join(sorted(contexts)) or "none"
        raise KubeconfigError(f"context {context_name!r} not in {source} (contexts: {known})")
    selected = contexts[context_name]

    clusters = {item["name"]: item["cluster"] for item in document.get("clusters") or []}
    users = {item["name"]: item.get("user") or {} for item in document.get("users") or []}
    cluster = clusters.get(selected.get("cluster"))
    user = users.get(selected.get("user"), {})
    if cluster is None or "server" not in cluster:
        raise KubeconfigError(f"context {context_name!r} in {source} names no usable cluster")

    folder = base or pathlib.Path.cwd()
    ca_pem = _data_or_file(cluster, "certificate-authority", folder)
    if ca_pem is None:
        raise KubeconfigError(f"cluster of context {context_name!r} in {source} has no CA")
    return ClusterAccess(
        server=str(cluster["server"]).rstrip("/"),
        ca_pem=ca_pem,
        client_cert_pem=_data_or_file(user, "client-certificate", folder),
        client_key_pem=_data_or_file(user, "client-key", folder),
        token=user.get("token"),
        token_file=pathlib.Path(folder, user["tokenFile"]) if user.get("tokenFile") else None,
    )


def in_cluster(
    folder: pathlib.Path = SERVICE_ACCOUNT, environ: Mapping[str, str] = os.environ
) -> ClusterAccess:
    """The API server of the cluster this pod runs in, as the pod's service account."""
    host = environ.get("KUBERNETES_SERVICE_HOST")
    port = environ.get("KUBERNETES_SERVICE_PORT", "443")
    if not host or not (folder / "token").is_file():
        raise KubeconfigError(
            "no kubeconfig given and not running in a pod with a service account: pass "
            "--kubeconfig or set KUBECONFIG"
        )
    if ":" in host:
        host = f"[{host}]"
    return ClusterAccess(
        server=f"https://{host}:{port}",
        ca_pem=(folder / "ca.crt").read_bytes(),
        token_file=folder / "token",
    )


def load(kubeconfig: pathlib.Path | None, context: str | None = None) -> ClusterAccess:
    """`kubeconfig` when given, else the pod's own service account."""
    return load_kubeconfig(kubeconfig, context) if kubeconfig else in_cluster()


def render_kubeconfig(access: ClusterAccess, *, name: str, namespace: str | None = None) -> str:
    """A self-contained kubeconfig (credentials embedded) with one context called `name`."""

    def encode(pem: bytes) -> str:
        return base64.b64encode(pem).decode()

    user: dict[str, str] = {}
    if access.client_cert_pem and access.client_key_pem:
        user["client-certificate-data"] = encode(access.client_cert_pem)
        user["client-key-data"] = encode(access.client_key_pem)
    if access.token:
        user["token"] = access.token
    if access.token_file is not None:
        user["tokenFile"] = str(access.token_file)
    context: dict[str, str] = {"cluster": name, "user": name}
    if namespace:
        context["namespace"] = namespace

    document = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": name,
                "cluster": {
                    "server": access.server,
                    "certificate-authority-data": encode(access.ca_pem),
                },
            }
        ],
        "users": [{"name": name, "user": user}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
        "preferences": {},
    }
    return yaml.safe_dump(document, sort_keys=False)


def write_kubeconfig(path: pathlib.Path, access: ClusterAccess, *, name: str) -> None:
    """Write a kubeconfig with mode 0600, atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.tmp")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(render_kubeconfig(access, name=name))
    scratch.replace(path)
