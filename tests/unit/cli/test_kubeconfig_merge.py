"""`atoll connect`'s merge: a tenant's context joins a kubeconfig and nothing else changes."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from atoll.cli import kubeconfigs
from atoll.core import pki
from atoll.core.kube import config

CONTEXT = "atoll_shop_demo"


@pytest.fixture(scope="module")
def tenant_kubeconfig() -> str:
    """What the operator publishes in `<name>-kubeconfig`: one context named after the VC."""
    authority = pki.new_ca("tenant-ca")
    admin = pki.issue(authority, pki.CertSpec("admin", ("system:masters",), client=True))
    access = config.ClusterAccess(
        server="https://127.0.0.1:40001",
        ca_pem=authority.cert_pem,
        client_cert_pem=admin.cert_pem,
        client_key_pem=admin.key_pem,
    )
    return config.render_kubeconfig(access, name="demo")


def existing_document() -> dict[str, Any]:
    """A user's kubeconfig with two clusters of its own, one with a token, and preferences."""
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {"colors": True},
        "clusters": [
            {"name": "prod", "cluster": {"server": "https://prod:6443"}},
            {"name": "kind-dev", "cluster": {"server": "https://127.0.0.1:39999"}},
        ],
        "users": [
            {"name": "prod-admin", "user": {"token": "abc"}},
            {"name": "kind-dev", "user": {"client-certificate": "dev.crt"}},
        ],
        "contexts": [
            {"name": "prod", "context": {"cluster": "prod", "user": "prod-admin"}},
            {"name": "kind-dev", "context": {"cluster": "kind-dev", "user": "kind-dev"}},
        ],
        "current-context": "prod",
        "extensions": [{"name": "something", "extension": {"kept": "yes"}}],
    }


def names(document: dict[str, Any], section: str) -> list[str]:
    return [entry["name"] for entry in document[section]]


def test_the_tenant_context_is_renamed_with_its_cluster_and_user(tenant_kubeconfig: str) -> None:
    addition = kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT)

    assert [names(addition, section) for section in kubeconfigs.SECTIONS] == [[CONTEXT]] * 3
    assert addition["contexts"][0]["context"] == {"cluster": CONTEXT, "user": CONTEXT}
    assert addition["current-context"] == CONTEXT
    assert kubeconfigs.context_name("shop", "demo") == CONTEXT


def test_merging_into_a_file_keeps_every_existing_entry(
    tmp_path: pathlib.Path, tenant_kubeconfig: str
) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(existing_document(), sort_keys=False))
    path.chmod(0o640)
    addition = kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT)

    previous = kubeconfigs.merge_into_file(path, addition, switch=True)

    merged = yaml.safe_load(path.read_text())
    original = existing_document()
    assert previous == "prod"
    assert names(merged, "clusters") == ["prod", "kind-dev", CONTEXT]
    assert names(merged, "users") == ["prod-admin", "kind-dev", CONTEXT]
    assert names(merged, "contexts") == ["prod", "kind-dev", CONTEXT]
    for section in kubeconfigs.SECTIONS:
        assert merged[section][:2] == original[section]
    assert merged["preferences"] == original["preferences"]
    assert merged["extensions"] == original["extensions"]
    assert merged["current-context"] == CONTEXT
    assert path.stat().st_mode & 0o777 == 0o640
    # The merged context is one kubectl (and atoll) can use as it is.
    assert config.load_kubeconfig(path) == config.parse_kubeconfig(tenant_kubeconfig)


def test_merging_twice_changes_nothing_the_second_time(
    tmp_path: pathlib.Path, tenant_kubeconfig: str
) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(existing_document(), sort_keys=False))
    addition = kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT)
    kubeconfigs.merge_into_file(path, addition, switch=True)
    first = path.read_bytes()

    previous = kubeconfigs.merge_into_file(path, addition, switch=True)

    assert path.read_bytes() == first
    assert previous == CONTEXT


def test_a_renewed_tenant_replaces_its_entries_in_place(tenant_kubeconfig: str) -> None:
    stale = existing_document()
    stale["clusters"].insert(0, {"name": CONTEXT, "cluster": {"server": "https://old:1"}})
    stale["clusters"].append({"name": CONTEXT, "cluster": {"server": "https://older:1"}})
    addition = kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT)

    merged = kubeconfigs.merge(stale, addition, switch=False)

    assert names(merged, "clusters") == [CONTEXT, "prod", "kind-dev"]
    assert merged["clusters"][0]["cluster"]["server"] == "https://127.0.0.1:40001"
    assert merged["current-context"] == "prod"


def test_no_switch_leaves_the_current_context(
    tmp_path: pathlib.Path, tenant_kubeconfig: str
) -> None:
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(existing_document(), sort_keys=False))

    kubeconfigs.merge_into_file(
        path, kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT), switch=False
    )

    merged = yaml.safe_load(path.read_text())
    assert merged["current-context"] == "prod"
    assert CONTEXT in names(merged, "contexts")


@pytest.mark.parametrize("content", [None, ""], ids=["no file", "empty file"])
def test_a_missing_or_empty_file_becomes_a_private_kubeconfig(
    tmp_path: pathlib.Path, tenant_kubeconfig: str, content: str | None
) -> None:
    path = tmp_path / "kube" / "config"
    if content is not None:
        path.parent.mkdir()
        path.write_text(content)
        path.chmod(0o600)

    previous = kubeconfigs.merge_into_file(
        path, kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT), switch=True
    )

    assert previous is None
    assert config.load_kubeconfig(path).server == "https://127.0.0.1:40001"
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_symlinked_kubeconfig_is_written_through_the_link(
    tmp_path: pathlib.Path, tenant_kubeconfig: str
) -> None:
    real = tmp_path / "dotfiles" / "kubeconfig"
    real.parent.mkdir()
    real.write_text(yaml.safe_dump(existing_document()))
    link = tmp_path / "config"
    link.symlink_to(real)

    kubeconfigs.merge_into_file(
        link, kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT), switch=True
    )

    assert link.is_symlink()
    assert CONTEXT in names(yaml.safe_load(real.read_text()), "contexts")


@pytest.mark.parametrize("junk", ["clusters: [unclosed", "- a list\n- not a kubeconfig\n"])
def test_a_file_that_is_no_kubeconfig_is_left_alone(
    tmp_path: pathlib.Path, tenant_kubeconfig: str, junk: str
) -> None:
    path = tmp_path / "config"
    path.write_text(junk)

    with pytest.raises(config.KubeconfigError, match="left alone"):
        kubeconfigs.merge_into_file(
            path, kubeconfigs.tenant_document(tenant_kubeconfig, CONTEXT), switch=True
        )

    assert path.read_text() == junk


def test_a_tenant_kubeconfig_without_a_current_context_is_refused() -> None:
    with pytest.raises(config.KubeconfigError, match="no current context"):
        kubeconfigs.tenant_document("apiVersion: v1\nkind: Config\ncontexts: []\n", CONTEXT)
