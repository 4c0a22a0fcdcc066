"""Malformed VirtualCluster specs, generated: refused with the field named, or Failed with the fix.

Hypothesis draws specs that are wrong in the ways people get them wrong — wrong types,
unknown enum values, numbers out of range, quantities that are not quantities, names too
long, duplicate or unknown pools, settings that contradict each other, lists far too long.
Each must be refused by the API server (422, the message naming the field), or, for the
few shapes only the operator can judge, be accepted and end in phase Failed with a `Ready`
condition whose reason and message say what to fix. Accepted specs are then deleted and
must leave nothing behind: no namespace, Secret, process or folder. The operator must live
through all of it: same pid, no traceback in its log.

Schema-refused shapes are cheap (one request); accepted ones cost a reconcile and a
deletion, so the strategy draws them rarely and only in shapes the operator refuses before
starting a control plane; one explicit example starts (and fails) a real one.
"""

from __future__ import annotations

import collections
import dataclasses
import re
import string
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from atoll.core import api as atoll_api
from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from support import cluster as support_cluster
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

QUANTITY = re.compile(
    r"(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
    r"(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?"
)
FLAG = re.compile(r"--[a-z0-9-]+(=.*)?")
SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
KNOWN_POOLS = ("cloud", "edge-a", "edge-b")
LABEL_CHARACTERS = string.ascii_lowercase + string.digits
INT64 = {"min_value": -(2**63), "max_value": 2**63 - 1}
GENERATED = 30  # plus the explicit examples


@dataclasses.dataclass(frozen=True)
class Refused:
    """A spec the API server must refuse, and the field its message must name."""

    spec: Any
    field: str
    name: str = ""


@dataclasses.dataclass(frozen=True)
class FailsLater:
    """A spec the schema accepts and the operator must fail, and what it must say."""

    spec: dict[str, Any]
    reason: str
    mention: str


Malformed = Refused | FailsLater


def nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """`{"a": {"b": value}}` for the path ("a", "b")."""
    result: Any = value
    for key in reversed(path):
        result = {key: result}
    return dict(result)


def field_of(path: tuple[str, ...]) -> str:
    return ".".join(("spec", *path))


def labels(min_size: int = 1, max_size: int = 20) -> st.SearchStrategy[str]:
    """DNS-1123 labels (valid names) of the given lengths."""
    return st.text(LABEL_CHARACTERS, min_size=min_size, max_size=max_size)


NOT_STRING = st.one_of(st.integers(**INT64), st.booleans(), st.lists(st.integers(), max_size=2))
NOT_INTEGER = st.one_of(
    st.text(max_size=8),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False).filter(lambda value: not value.is_integer()),
)
NOT_BOOLEAN = st.one_of(
    st.text(max_size=6), st.integers(**INT64), st.lists(st.booleans(), max_size=2)
)
NOT_OBJECT = st.one_of(
    st.text(max_size=6), st.integers(**INT64), st.lists(st.integers(), max_size=2)
)
NOT_LIST = st.one_of(
    st.text(max_size=6),
    st.integers(**INT64),
    st.dictionaries(labels(), st.integers(), min_size=1, max_size=2),
)
WRONG_TYPES: tuple[tuple[tuple[str, ...], st.SearchStrategy[Any]], ...] = (
    (("paused",), NOT_BOOLEAN),
    (("clusterVersion",), NOT_STRING),
    (("deletionPolicy",), NOT_STRING),
    (("controlPlane",), NOT_OBJECT),
    (("controlPlane", "replicas"), NOT_INTEGER),
    (("controlPlane", "datastore"), NOT_OBJECT),
    (("controlPlane", "service", "type"), NOT_STRING),
    (("controlPlane", "certSANs"), NOT_LIST),
    (("controlPlane", "extraArgs", "apiServer"), NOT_LIST),
    (("nodePools",), NOT_LIST),
    (("autonomy", "tolerationSeconds"), NOT_INTEGER),
    (("autonomy", "unlimited"), NOT_BOOLEAN),
    (("sync", "ingresses"), NOT_BOOLEAN),
    (("isolation", "networkIsolation"), NOT_BOOLEAN),
)
ENUMS: tuple[tuple[tuple[str, ...], frozenset[str]], ...] = (
    (("controlPlane", "provisioner"), frozenset({"process", "kubernetes"})),
    (("controlPlane", "datastore", "type"), frozenset({"etcd", "kine"})),
    (("controlPlane", "datastore", "mode"), frozenset({"dedicated", "shared"})),
    (("controlPlane", "service", "type"), frozenset({"ClusterIP", "NodePort", "LoadBalancer"})),
    (("deletionPolicy",), frozenset({"Delete", "Retain"})),
    (("sync", "nodeView"), frozenset({"used", "pools"})),
    (("isolation", "podSecurity"), frozenset({"restricted", "baseline", "privileged"})),
)
RANGES: tuple[tuple[tuple[str, ...], int, int | None], ...] = (
    (("controlPlane", "replicas"), 1, 5),
    (("autonomy", "tolerationSeconds"), 0, 31536000),
    (("isolation", "quota", "services"), 0, None),
    (("isolation", "quota", "persistentvolumeclaims"), 0, None),
)
QUANTITIES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("isolation", "quota", "limits.memory"), "spec.isolation.quota.limits.memory"),
    (("controlPlane", "datastore", "storage", "size"), "spec.controlPlane.datastore.storage.size"),
    (
        ("controlPlane", "resources", "apiServer", "requests", "cpu"),
        "spec.controlPlane.resources.apiServer.requests.cpu",
    ),
)
LONG_LISTS: tuple[tuple[tuple[str, ...], int, st.SearchStrategy[str]], ...] = (
    (("controlPlane", "certSANs"), 20, labels()),
    (("controlPlane", "extraArgs", "controllerManager"), 50, labels().map(lambda n: f"--{n}")),
    (("isolation", "allowedStorageClasses"), 64, labels()),
)


@st.composite
def wrong_type(draw: st.DrawFn) -> Refused:
    path, values = draw(st.sampled_from(WRONG_TYPES))
    return Refused(nest(path, draw(values)), field_of(path))


@st.composite
def unknown_enum_value(draw: st.DrawFn) -> Refused:
    path, allowed = draw(st.sampled_from(ENUMS))
    value = draw(
        st.text(string.ascii_letters + "-_ ", max_size=16).filter(lambda v: v not in allowed)
    )
    return Refused(nest(path, value), field_of(path))


@st.composite
def out_of_range(draw: st.DrawFn) -> Refused:
    path, low, high = draw(st.sampled_from(RANGES))
    below = st.integers(min_value=INT64["min_value"], max_value=low - 1)
    value = draw(
        below if high is None else st.one_of(below, st.integers(high + 1, INT64["max_value"]))
    )
    return Refused(nest(path, value), field_of(path))


@st.composite
def bad_node_port_or_pool_count(draw: st.DrawFn) -> Refused:
    if draw(st.booleans()):
        port = draw(st.one_of(st.integers(-(2**31), 29999), st.integers(32768, 2**31 - 1)))
        spec = {"controlPlane": {"service": {"type": "NodePort", "nodePort": port}}}
        return Refused(spec, "spec.controlPlane.service.nodePort")
    pods = draw(st.integers(INT64["min_value"], -1))
    return Refused(
        {"nodePools": [{"name": "edge-a", "quota": {"pods": pods}}]}, "spec.nodePools[0].quota.pods"
    )


@st.composite
def not_a_quantity(draw: st.DrawFn) -> Refused:
    value = draw(
        st.one_of(
            st.sampled_from(["lots", "1.5.3", "5 cores", "1Gb", "--1", "0x10", "1e", "Mi", ""]),
            st.text(max_size=10),
        ).filter(lambda text: QUANTITY.fullmatch(text) is None)
    )
    if draw(st.booleans()):
        spec = {"nodePools": [{"name": "edge-a", "quota": {"requests.cpu": value}}]}
        return Refused(spec, "spec.nodePools[0].quota.requests.cpu")
    path, field = draw(st.sampled_from(QUANTITIES))
    return Refused(nest(path, value), field)


@st.composite
def too_long(draw: st.DrawFn) -> Refused:
    which = draw(
        st.sampled_from(["name", "huge-name", "pool", "default-pool", "version", "endpoint"])
    )
    if which == "name":  # a valid DNS name, too long for the labels atoll writes it into
        return Refused({}, "metadata.name", name=draw(labels(64, 253)))
    if which == "huge-name":
        return Refused({}, "metadata.name", name=draw(labels(254, 400)))
    if which == "pool":
        return Refused({"nodePools": [{"name": draw(labels(64, 100))}]}, "spec.nodePools[0].name")
    if which == "default-pool":
        return Refused({"defaultNodePool": draw(labels(64, 100))}, "spec.defaultNodePool")
    if which == "version":
        return Refused({"clusterVersion": draw(labels(254, 300))}, "spec.clusterVersion")
    return Refused(
        {"controlPlane": {"endpoint": draw(labels(262, 400))}}, "spec.controlPlane.endpoint"
    )


@st.composite
def bad_name(draw: st.DrawFn) -> Refused:
    name = draw(
        st.text(string.ascii_letters + string.digits + "_.-", min_size=1, max_size=30).filter(
            lambda text: SUBDOMAIN.fullmatch(text) is None
        )
    )
    return Refused({}, "metadata.name", name=name)


@st.composite
def duplicate_entries(draw: st.DrawFn) -> Refused:
    if draw(st.booleans()):
        pool = draw(st.sampled_from(KNOWN_POOLS))
        others = [{"name": name} for name in KNOWN_POOLS if name != pool]
        return Refused({"nodePools": [{"name": pool}, *others, {"name": pool}]}, "spec.nodePools")
    name = draw(labels())
    return Refused({"controlPlane": {"certSANs": [name, "api.example.com", name]}}, "certSANs")


@st.composite
def contradiction(draw: st.DrawFn) -> Refused:
    if draw(st.booleans()):
        service: dict[str, Any] = {"nodePort": draw(st.integers(30000, 32767))}
        kind = draw(st.sampled_from([None, "ClusterIP", "LoadBalancer"]))
        if kind is not None:
            service["type"] = kind
        return Refused({"controlPlane": {"service": service}}, "nodePort")
    granted = draw(st.lists(st.sampled_from(KNOWN_POOLS), min_size=1, max_size=2, unique=True))
    default = draw(labels().filter(lambda name: name not in granted))
    spec = {"nodePools": [{"name": name} for name in granted], "defaultNodePool": default}
    return Refused(spec, "defaultNodePool")


@st.composite
def huge_list(draw: st.DrawFn) -> Refused:
    if draw(st.booleans()):
        names = draw(st.lists(labels(), min_size=33, max_size=40, unique=True))
        return Refused({"nodePools": [{"name": name} for name in names]}, "spec.nodePools")
    path, limit, items = draw(st.sampled_from(LONG_LISTS))
    values = draw(st.lists(items, min_size=limit + 1, max_size=limit + 10, unique=True))
    return Refused(nest(path, values), field_of(path))


@st.composite
def bad_flag_or_endpoint(draw: st.DrawFn) -> Refused:
    if draw(st.booleans()):
        flag = draw(st.text(max_size=20).filter(lambda text: FLAG.fullmatch(text) is None))
        spec = {"controlPlane": {"extraArgs": {"apiServer": [flag]}}}
        return Refused(spec, "spec.controlPlane.extraArgs.apiServer[0]")
    host = draw(labels())
    junk = draw(st.sampled_from(["https://", "/", " ", "/path", " :6443"]))
    return Refused({"controlPlane": {"endpoint": f"{host}{junk}"}}, "spec.controlPlane.endpoint")


@st.composite
def wrong_spec_type(draw: st.DrawFn) -> Refused:
    return Refused(draw(NOT_OBJECT), "spec")


@st.composite
def judged_by_the_operator(draw: st.DrawFn) -> FailsLater:
    """Shapes the schema allows and the operator refuses before starting anything."""
    which = draw(st.sampled_from(["pool", "version", "shared", "quota"]))
    if which == "pool":
        pool = draw(labels(2, 20).filter(lambda name: name not in KNOWN_POOLS))
        return FailsLater({"nodePools": [{"name": pool}]}, "NodePoolNotFound", pool)
    if which == "version":
        version = draw(labels(2, 40))
        return FailsLater({"clusterVersion": f"none-{version}"}, "ClusterVersionNotFound", version)
    if which == "shared":
        return FailsLater(
            {"controlPlane": {"datastore": {"mode": "shared"}}},
            "SharedDatastoreUnsupported",
            "controlPlane.datastore.mode",
        )
    value = draw(st.sampled_from(["-1", "-500m", "-2Gi", "1e400000000", "9E99", "-0.5"]))
    resource = draw(st.sampled_from(["requests.cpu", "limits.memory"]))
    spec = {"nodePools": [{"name": "edge-a", "quota": {resource: value}}]}
    return FailsLater(spec, "InvalidQuota", f"spec.nodePools[0].quota.{resource}")


REFUSED = st.one_of(
    wrong_type(),
    unknown_enum_value(),
    out_of_range(),
    bad_node_port_or_pool_count(),
    not_a_quantity(),
    too_long(),
    bad_name(),
    duplicate_entries(),
    contradiction(),
    huge_list(),
    bad_flag_or_endpoint(),
    wrong_spec_type(),
)
# One in eight draws is a shape only the operator can judge: they cost a reconcile each.
MALFORMED: st.SearchStrategy[Malformed] = st.integers(0, 7).flatmap(
    lambda roll: judged_by_the_operator() if roll == 0 else REFUSED
)


@dataclasses.dataclass
class Watch:
    """The operator as it was when the module started, and what the examples did."""

    namespace: str
    pid: int
    log_offset: int
    tally: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)
    reasons: collections.Counter[str] = dataclasses.field(default_factory=collections.Counter)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def watch(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> AsyncIterator[Watch]:
    name = f"malformed-{uuid.uuid4().hex[:8]}"
    await api.create(resources.NAMESPACES.path(), {"metadata": {"name": name}})
    log = super_cluster.folder.log_file("atoll-operator")
    yield Watch(name, super_cluster.pid("atoll-operator"), log.stat().st_size)


def _new_log(super_cluster: support_cluster.SuperCluster, watch: Watch) -> str:
    with super_cluster.folder.log_file("atoll-operator").open("rb") as log:
        log.seek(watch.log_offset)
        return log.read().decode("utf-8", "replace")


@settings(
    max_examples=GENERATED,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=MALFORMED)
@example(
    case=FailsLater(
        {"controlPlane": {"extraArgs": {"apiServer": ["--no-such-flag=1"]}}},
        "ComponentFailed",
        "no-such-flag",
    )
)
async def test_malformed_spec_is_refused_or_fails_saying_what_to_fix(
    api: kube_client.Client,
    super_cluster: support_cluster.SuperCluster,
    watch: Watch,
    case: Malformed,
) -> None:
    name = (case.name if isinstance(case, Refused) else "") or f"bad-{sum(watch.tally.values())}"
    watch.tally["tried"] += 1
    body = {
        "apiVersion": atoll_api.API_VERSION,
        "kind": "VirtualCluster",
        "metadata": {"name": name, "namespace": watch.namespace},
        "spec": case.spec,
    }
    try:
        created = await api.create(atoll_api.VIRTUALCLUSTERS.path(watch.namespace), body)
    except errors.Invalid as error:
        refusal: errors.Invalid | None = error
    else:
        refusal = None
    if refusal is not None:
        assert isinstance(case, Refused), f"refused, though the operator should judge: {refusal}"
        assert case.field in str(refusal), f"{case.field} not named in: {refusal}"
        watch.tally["refused"] += 1
        return
    assert isinstance(case, FailsLater), f"accepted a spec that names a bad {case.field}"
    watch.tally["accepted"] += 1
    watch.reasons[case.reason] += 1
    try:
        await _fails_saying_why(api, watch, name, case)
        assert super_cluster.pid("atoll-operator") == watch.pid, "the operator restarted"
        assert "Traceback" not in _new_log(super_cluster, watch)
    finally:
        await _deleted_without_leftovers(api, super_cluster, watch, created)


async def _fails_saying_why(
    api: kube_client.Client, watch: Watch, name: str, case: FailsLater
) -> None:
    failed = await vcs.wait_phase(api, watch.namespace, name, "Failed", timeout=90)
    ready = vcs.condition(failed, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", case.reason), ready
    assert case.mention in ready["message"], ready["message"]


async def _deleted_without_leftovers(
    api: kube_client.Client,
    super_cluster: support_cluster.SuperCluster,
    watch: Watch,
    created: kube_client.KubeObject,
) -> None:
    metadata = created["metadata"]
    uid = metadata["uid"]
    path = atoll_api.VIRTUALCLUSTERS.path(watch.namespace, metadata["name"])
    await api.delete(path)
    await vcs.wait_gone(api, path, timeout=90)

    owned = {"labelSelector": f"{naming.VC_UID}={uid}"}
    assert (await api.get(resources.NAMESPACES.path(), params=owned))["items"] == []
    assert (await api.get(resources.SECRETS.path(), params=owned))["items"] == []
    assert vcs.tenant_processes(uid) == []
    assert not (super_cluster.folder.root / "vc" / uid).exists()


async def test_operator_lived_through_every_malformed_spec(
    super_cluster: support_cluster.SuperCluster, watch: Watch, record_testsuite_property: Any
) -> None:
    tally = watch.tally
    record_testsuite_property("malformed_specs_tried", tally["tried"])
    print(  # noqa: T201 - the figure this module exists to report
        f"\n{tally['tried']} malformed VirtualCluster specs tried: {tally['refused']} refused "
        f"by the API server naming the field, {tally['accepted']} accepted and Failed with the "
        f"fix ({', '.join(f'{k} {v}' for k, v in sorted(watch.reasons.items()))}), none left "
        "anything behind"
    )
    assert super_cluster.pid("atoll-operator") == watch.pid
    assert "Traceback" not in _new_log(super_cluster, watch)
