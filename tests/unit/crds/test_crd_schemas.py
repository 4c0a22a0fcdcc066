"""Pure checks of the CustomResourceDefinitions in `crds/`: no API server needed.

They prove what `kubectl explain` and a structural schema need from the files
(descriptions and types at every depth), that an empty VirtualCluster spec is
filled in by defaults, the printer columns and names, and that the shipped
`default` ClusterVersion satisfies its own schema's version pattern.
"""

from __future__ import annotations

import pathlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

CRD_DIR = pathlib.Path(__file__).resolve().parents[3] / "crds"

VC_FILE = "atoll.dev_virtualclusters.yaml"
CV_FILE = "atoll.dev_clusterversions.yaml"
CRD_FILES = (VC_FILE, CV_FILE)
DEFAULT_CV_FILE = "clusterversion-default.yaml"

Schema = dict[str, Any]


def load(name: str) -> dict[str, Any]:
    documents = list(yaml.safe_load_all((CRD_DIR / name).read_text(encoding="utf-8")))
    assert len(documents) == 1, f"{name} should hold exactly one document"
    document = documents[0]
    assert isinstance(document, dict)
    return document


def only_version(crd: dict[str, Any]) -> dict[str, Any]:
    versions = crd["spec"]["versions"]
    assert len(versions) == 1
    version = versions[0]
    assert isinstance(version, dict)
    return version


def root_schema(name: str) -> Schema:
    schema = only_version(load(name))["schema"]["openAPIV3Schema"]
    assert isinstance(schema, dict)
    return schema


def walk(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Yield every schema node with its path: properties, list items and map values.

    Branches of `anyOf` (the int-or-string idiom) are not walked: a structural
    schema forbids descriptions there. Nor is the root's `metadata`, which the API
    server describes itself and which may say nothing but `type: object`.
    """
    yield path, schema
    for key, child in schema.get("properties", {}).items():
        if not path and key == "metadata":
            assert child == {"type": "object"}, "metadata may only be declared as an object"
            continue
        yield from walk(child, f"{path}.{key}")
    items = schema.get("items")
    if isinstance(items, dict):
        yield from walk(items, f"{path}[]")
    values = schema.get("additionalProperties")
    if isinstance(values, dict):
        yield from walk(values, f"{path}{{*}}")


def node(schema: Schema, *names: str) -> Schema:
    for name in names:
        schema = schema["properties"][name]
    return schema


def apply_defaults(schema: Schema, value: Any) -> Any:
    """Fill in defaults the way the API server does: top-down, parents before children."""
    if not isinstance(value, dict) or schema.get("type") != "object":
        return value
    filled = dict(value)
    for key, child in schema.get("properties", {}).items():
        if key not in filled and "default" in child:
            filled[key] = child["default"]
        if key in filled:
            filled[key] = apply_defaults(child, filled[key])
    return filled


@pytest.fixture(scope="module")
def vc_schema() -> Schema:
    return root_schema(VC_FILE)


@pytest.mark.parametrize("name", CRD_FILES)
def test_every_field_has_a_description(name: str) -> None:
    missing = [
        path or "<root>"
        for path, schema in walk(root_schema(name))
        if not str(schema.get("description", "")).strip()
    ]

    assert not missing, f"{name}: fields without a description: {missing}"


@pytest.mark.parametrize("name", CRD_FILES)
def test_every_description_is_a_sentence(name: str) -> None:
    bad = [
        path or "<root>"
        for path, schema in walk(root_schema(name))
        if not re.match(r"^[A-Z].*[.)]$", str(schema.get("description", "")).strip(), re.S)
    ]

    assert not bad, f"{name}: descriptions that are not full sentences: {bad}"


@pytest.mark.parametrize("name", CRD_FILES)
def test_every_node_has_a_type_or_is_int_or_string(name: str) -> None:
    untyped = [
        path or "<root>"
        for path, schema in walk(root_schema(name))
        if "type" not in schema and not schema.get("x-kubernetes-int-or-string")
    ]

    assert not untyped, f"{name}: schema nodes without a type: {untyped}"


@pytest.mark.parametrize("name", CRD_FILES)
def test_object_nodes_are_typed_object(name: str) -> None:
    wrong = [
        path or "<root>"
        for path, schema in walk(root_schema(name))
        if ("properties" in schema or "additionalProperties" in schema)
        and schema.get("type") != "object"
    ]

    assert not wrong, f"{name}: nodes with fields that are not of type object: {wrong}"


@pytest.mark.parametrize("name", CRD_FILES)
def test_int_or_string_nodes_follow_the_structural_idiom(name: str) -> None:
    for path, schema in walk(root_schema(name)):
        if schema.get("x-kubernetes-int-or-string"):
            assert "type" not in schema, path
            assert schema.get("anyOf") == [{"type": "integer"}, {"type": "string"}], path
            assert "pattern" in schema, f"{path}: a quantity needs the quantity pattern"


@pytest.mark.parametrize("name", CRD_FILES)
def test_no_unknown_fields_are_preserved(name: str) -> None:
    preserved = [
        path
        for path, schema in walk(root_schema(name))
        if schema.get("x-kubernetes-preserve-unknown-fields")
    ]

    assert not preserved


@pytest.mark.parametrize("name", CRD_FILES)
def test_every_validation_rule_has_a_message(name: str) -> None:
    for path, schema in walk(root_schema(name)):
        for validation in schema.get("x-kubernetes-validations", []):
            assert validation.get("rule"), path
            assert str(validation.get("message", "")).strip(), f"{path}: rule without message"


@pytest.mark.parametrize("name", CRD_FILES)
def test_defaults_hold_what_their_own_rules_read(name: str) -> None:
    # The API server evaluates a node's CEL rules against the node's default as it is
    # written, before nested defaults, and rejects the CRD if a rule reads a missing field.
    # Rules guarded by has() are left to the server: they may short-circuit.
    for path, schema in walk(root_schema(name)):
        default = schema.get("default")
        if not isinstance(default, dict):
            continue
        for validation in schema.get("x-kubernetes-validations", []):
            rule = validation["rule"]
            if "has(" in rule:
                continue
            for field in re.findall(r"\bself\.(\w+)", rule):
                assert field in default, f"{path}: default lacks {field} read by {rule!r}"


@pytest.mark.parametrize("name", CRD_FILES)
def test_keyed_lists_are_maps_with_required_keys(name: str) -> None:
    for path, schema in walk(root_schema(name)):
        if schema.get("x-kubernetes-list-type") != "map":
            continue
        keys = schema["x-kubernetes-list-map-keys"]
        assert set(keys) <= set(schema["items"].get("required", [])), path


@pytest.mark.parametrize("name", CRD_FILES)
def test_defaults_are_allowed_by_their_own_enums(name: str) -> None:
    for path, schema in walk(root_schema(name)):
        if "default" in schema and "enum" in schema:
            assert schema["default"] in schema["enum"], path


def test_empty_spec_is_filled_in_by_defaults(vc_schema: Schema) -> None:
    spec_schema = node(vc_schema, "spec")
    for field in ("controlPlane", "autonomy", "sync", "isolation"):
        assert node(spec_schema, field).get("default") == {}, field
    # Spelled out, not {}: the API server checks a default against the node's own CEL
    # rules without applying nested defaults, and the datastore rules read type and mode.
    assert node(spec_schema, "controlPlane", "datastore").get("default") == {
        "type": "etcd",
        "mode": "dedicated",
    }

    spec = apply_defaults(spec_schema, {})

    assert spec["clusterVersion"] == "default"
    assert "provisioner" not in spec["controlPlane"]
    assert spec["controlPlane"]["datastore"]["type"] == "etcd"
    assert spec["controlPlane"]["datastore"]["mode"] == "dedicated"
    assert spec["controlPlane"]["datastore"]["storage"]["size"] == "1Gi"
    assert spec["controlPlane"]["replicas"] == 1
    assert spec["controlPlane"]["service"]["type"] == "ClusterIP"
    assert spec["autonomy"] == {"tolerationSeconds": 86400, "unlimited": False}
    assert spec["sync"] == {
        "ingresses": False,
        "networkPolicies": False,
        "podDisruptionBudgets": False,
        "nodeView": "used",
    }
    assert spec["isolation"] == {"podSecurity": "baseline", "networkIsolation": True}
    assert spec["paused"] is False
    assert spec["deletionPolicy"] == "Delete"


def test_a_missing_spec_is_defaulted_too(vc_schema: Schema) -> None:
    assert node(vc_schema, "spec").get("default") == {}
    assert "spec" not in vc_schema.get("required", [])


def test_provisioner_has_no_default(vc_schema: Schema) -> None:
    provisioner = node(vc_schema, "spec", "controlPlane", "provisioner")

    assert "default" not in provisioner
    assert provisioner["enum"] == ["process", "kubernetes"]


def test_immutable_fields_use_transition_rules(vc_schema: Schema) -> None:
    control_plane = node(vc_schema, "spec", "controlPlane")
    datastore = node(control_plane, "datastore")

    rules = [v["rule"] for v in control_plane["x-kubernetes-validations"]]
    rules += [v["rule"] for v in datastore["x-kubernetes-validations"]]

    assert any("self.provisioner == oldSelf.provisioner" in rule for rule in rules)
    assert "self.type == oldSelf.type" in rules
    assert "self.mode == oldSelf.mode" in rules


def test_node_pools_are_a_map_keyed_by_name(vc_schema: Schema) -> None:
    pools = node(vc_schema, "spec", "nodePools")

    assert pools["x-kubernetes-list-type"] == "map"
    assert pools["x-kubernetes-list-map-keys"] == ["name"]
    assert pools["maxItems"] == 32
    quota = node(pools["items"], "quota")
    assert set(quota["properties"]) == {
        "pods",
        "requests.cpu",
        "requests.memory",
        "limits.cpu",
        "limits.memory",
    }


@pytest.mark.parametrize(
    ("name", "kind", "plural", "scope", "short_name"),
    [
        (VC_FILE, "VirtualCluster", "virtualclusters", "Namespaced", "vc"),
        (CV_FILE, "ClusterVersion", "clusterversions", "Cluster", "cv"),
    ],
)
def test_names_scope_and_status_subresource(
    name: str, kind: str, plural: str, scope: str, short_name: str
) -> None:
    crd = load(name)
    version = only_version(crd)

    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["metadata"]["name"] == f"{plural}.atoll.dev"
    assert crd["spec"]["group"] == "atoll.dev"
    assert crd["spec"]["scope"] == scope
    assert crd["spec"]["names"]["kind"] == kind
    assert crd["spec"]["names"]["plural"] == plural
    assert crd["spec"]["names"]["singular"] == kind.lower()
    assert crd["spec"]["names"]["shortNames"] == [short_name]
    assert crd["spec"]["names"]["categories"] == ["atoll"]
    assert version["name"] == "v1alpha1"
    assert version["served"] is True
    assert version["storage"] is True
    assert version["subresources"] == {"status": {}}


def printer_columns(name: str) -> list[tuple[str, str, str]]:
    return [
        (column["name"], column["type"], column["jsonPath"])
        for column in only_version(load(name))["additionalPrinterColumns"]
    ]


def test_virtual_cluster_printer_columns() -> None:
    assert printer_columns(VC_FILE) == [
        ("Phase", "string", ".status.phase"),
        ("Version", "string", ".status.version"),
        ("Endpoint", "string", ".status.controlPlaneEndpoint"),
        ("Age", "date", ".metadata.creationTimestamp"),
    ]


def test_cluster_version_printer_columns() -> None:
    assert printer_columns(CV_FILE) == [
        ("Kubernetes", "string", ".spec.kubernetesVersion"),
        ("Age", "date", ".metadata.creationTimestamp"),
    ]


def test_default_cluster_version_matches_its_schema() -> None:
    default = load(DEFAULT_CV_FILE)
    spec_schema = node(root_schema(CV_FILE), "spec")

    assert default["apiVersion"] == "atoll.dev/v1alpha1"
    assert default["kind"] == "ClusterVersion"
    assert default["metadata"]["name"] == "default"
    version = default["spec"]["kubernetesVersion"]
    assert version == "v1.37.2"
    assert re.fullmatch(node(spec_schema, "kubernetesVersion")["pattern"], version)
    for component in ("etcd", "kine"):
        pattern = node(spec_schema, component, "version")["pattern"]
        assert re.fullmatch(pattern, default["spec"][component]["version"]), component
    for component in default["spec"]:
        assert component in spec_schema["properties"], f"unknown field spec.{component}"
