"""The chart against the files it copies or follows: no helm, no cluster.

The CRDs in `crds/` are the one source of truth, the package version is the chart's
appVersion, the `default` ClusterVersion shipped with the CRDs is the chart's default, and
the README's values table is generated from values.yaml and its schema. Each test names the
command that brings its copy back in line.
"""

from __future__ import annotations

import importlib.util
import json
import pathlib
import tomllib
import types
from typing import Any

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "atoll"
CRD_DIR = ROOT / "crds"
SINGLE_CRD_FILES = ("atoll.dev_virtualclusters.yaml", "atoll.dev_clusterversions.yaml")


def hack_script(name: str) -> types.ModuleType:
    """A script of `hack/`, imported from its file (hack/ is no package)."""
    spec = importlib.util.spec_from_file_location(f"hack_{name}", ROOT / "hack" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_yaml(path: pathlib.Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_chart_crds_are_the_crd_documents_of_the_crds_folder() -> None:
    sync = hack_script("sync_chart_crds")

    stale = sync.stale()

    assert not stale, f"chart CRDs differ from crds/: {stale}; run `{sync.COMMAND}`"


def test_atoll_crds_are_copied_byte_for_byte() -> None:
    for name in SINGLE_CRD_FILES:
        source, copy = CRD_DIR / name, CHART / "crds" / name
        assert copy.read_bytes() == source.read_bytes(), (
            f"charts/atoll/crds/{name} differs from crds/{name}; "
            "run `.venv/bin/python hack/sync_chart_crds.py`"
        )


def test_chart_crd_folder_holds_only_definitions() -> None:
    # Helm creates this folder's objects before their kinds are served: a custom resource
    # here would fail every install on a fresh cluster.
    for path in sorted((CHART / "crds").glob("*.yaml")):
        kinds = {
            document["kind"]
            for document in yaml.safe_load_all(path.read_text(encoding="utf-8"))
            if document
        }
        assert kinds == {"CustomResourceDefinition"}, f"{path.name} holds {sorted(kinds)}"


def test_app_version_is_the_package_version() -> None:
    package = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    chart = load_yaml(CHART / "Chart.yaml")

    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == package["project"]["version"]


def test_default_cluster_version_values_are_the_shipped_default() -> None:
    shipped = load_yaml(CRD_DIR / "clusterversion-default.yaml")
    values = load_yaml(CHART / "values.yaml")

    assert values["clusterVersion"] == shipped["spec"], (
        "values.yaml clusterVersion must equal the spec of crds/clusterversion-default.yaml"
    )


def test_every_value_has_a_schema_description_and_every_schema_value_a_default() -> None:
    generator = hack_script("gen_helm_values")
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    values = load_yaml(CHART / "values.yaml")

    described = dict(generator.leaves(schema, schema))
    undescribed = [path for path, node in described.items() if not node.get("description")]
    assert not undescribed, f"schema values without a description: {undescribed}"

    def value_paths(tree: dict[str, Any], prefix: str = "") -> list[str]:
        paths = []
        for key, value in tree.items():
            path = f"{prefix}{key}"
            if path in described:
                paths.append(path)
            elif isinstance(value, dict):
                paths.extend(value_paths(value, f"{path}."))
            else:
                paths.append(path)
        return paths

    assert sorted(value_paths(values)) == sorted(described)


def test_readme_values_table_is_current() -> None:
    generator = hack_script("gen_helm_values")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert generator.START in readme
    assert generator.END in readme
    assert generator.with_table(readme, generator.table()) == readme, (
        f"the README's Helm values table is stale; run `{generator.COMMAND}`"
    )
