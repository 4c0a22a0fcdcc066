"""Merging a tenant's credentials into a kubeconfig file, as `atoll connect` does.

The tenant's kubeconfig (from its Secret) becomes one cluster, one user and one context, all
named `atoll_<namespace>_<name>`, and is merged into a kubeconfig document: entries of that
name are replaced where they stand, every other entry and top-level key is kept as it was, so
merging twice changes nothing the second time. `merge` is pure; `merge_into_file` reads and
writes the file (atomically, keeping its mode, 0600 for a new one: kubeconfigs hold keys).
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import yaml

from atoll.core.kube import config

Document = dict[str, Any]
SECTIONS = ("clusters", "users", "contexts")


TENANT_PREFIX = "atoll_"


def context_name(namespace: str, name: str) -> str:
    """The name of a tenant's context (and of its cluster and user) in merged kubeconfigs."""
    return f"{TENANT_PREFIX}{namespace}_{name}"


def is_tenant_context(name: str | None) -> bool:
    """Whether a context is one `atoll connect` made for a tenant."""
    return bool(name and name.startswith(TENANT_PREFIX))


def tenant_document(tenant_kubeconfig: str, name: str) -> Document:
    """The tenant kubeconfig's current context, with its cluster and user, renamed to `name`."""
    try:
        source = yaml.safe_load(tenant_kubeconfig) or {}
    except yaml.YAMLError as error:
        raise config.KubeconfigError(f"the tenant's kubeconfig does not parse: {error}") from error
    contexts = {item["name"]: item.get("context") or {} for item in source.get("contexts") or []}
    current = contexts.get(source.get("current-context"))
    if current is None:
        raise config.KubeconfigError("the tenant's kubeconfig has no current context")
    clusters = {item["name"]: item.get("cluster") for item in source.get("clusters") or []}
    users = {item["name"]: item.get("user") or {} for item in source.get("users") or []}
    cluster = clusters.get(current.get("cluster"))
    if cluster is None:
        raise config.KubeconfigError("the tenant's kubeconfig names no cluster for its context")

    context = {**current, "cluster": name, "user": name}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": cluster}],
        "users": [{"name": name, "user": users.get(current.get("user"), {})}],
        "contexts": [{"name": name, "context": context}],
        "current-context": name,
    }


def _upsert(entries: list[Any], entry: dict[str, Any]) -> list[Any]:
    """`entries` with `entry` in place of the one(s) of its name, or appended."""
    merged: list[Any] = []
    placed = False
    for existing in entries:
        if isinstance(existing, dict) and existing.get("name") == entry["name"]:
            if not placed:
                merged.append(entry)
                placed = True
            continue
        merged.append(existing)
    return merged if placed else [*merged, entry]


def merge(existing: Document | None, addition: Document, *, switch: bool) -> Document:
    """`existing` with the clusters, users and contexts of `addition` merged in by name.

    The current context becomes the added one only with `switch`.
    """
    merged: Document = {"apiVersion": "v1", "kind": "Config", **(existing or {})}
    for section in SECTIONS:
        entries = list(merged.get(section) or [])
        for entry in addition.get(section) or []:
            entries = _upsert(entries, entry)
        merged[section] = entries
    if switch:
        merged["current-context"] = addition["current-context"]
    return merged


def read(path: pathlib.Path) -> Document | None:
    """A kubeconfig file's document; None when there is no file yet. Never guesses at junk."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise config.KubeconfigError(f"cannot read kubeconfig {path}: {error}") from error
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise config.KubeconfigError(
            f"{path} is not valid YAML, so it is left alone: {error}"
        ) from error
    if document is None:
        return None
    if not isinstance(document, dict):
        raise config.KubeconfigError(f"{path} is not a kubeconfig, so it is left alone")
    return document


def write(path: pathlib.Path, document: Document) -> None:
    """Replace the file atomically; a symlink's target is written, its mode is kept."""
    real = path.resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    try:
        mode = real.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    scratch = real.with_name(f".{real.name}.atoll-tmp")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(yaml.safe_dump(document, sort_keys=False, default_flow_style=False))
    scratch.chmod(mode)
    scratch.replace(real)


def merge_into_file(path: pathlib.Path, addition: Document, *, switch: bool) -> str | None:
    """Merge into the kubeconfig at `path`; returns the current context it had before."""
    existing = read(path)
    previous = (existing or {}).get("current-context") or None
    merged = merge(existing, addition, switch=switch)
    if merged != existing:
        write(path, merged)
    return previous
