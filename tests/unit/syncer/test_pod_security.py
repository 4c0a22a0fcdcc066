"""Unit tests for `atoll.syncer.pods.security`: the Pod Security Standard a tenant pod must meet.

Concrete pods show each rule refused at the level that holds it and allowed one level down.
Hypothesis then checks that the levels nest (what restricted allows, baseline allows; baseline
refuses nothing restricted does not), that a pod built to be restricted passes, and that any
one forbidden change to such a pod is caught by its own rule at the container it was made in.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import hypothesis
import pytest
from hypothesis import strategies

from atoll.syncer.pods import security

Pod = dict[str, Any]
Edit = Callable[[Pod], None]
# An edit drawn by hypothesis: it changes the pod and says (rule, where, lowest refusing level).
DrawnEdit = Callable[[strategies.DataObject, Pod], tuple[str, str, str]]

# Hypothesis keeps no example database: tests write nothing outside their temporary folders.
PROPERTY = hypothesis.settings(database=None, max_examples=200, deadline=None)

NON_DEFAULT_CAPABILITIES = ("SYS_ADMIN", "NET_RAW", "NET_ADMIN", "SYS_PTRACE", "BPF", "ALL")
UNSAFE_SYSCTLS = ("kernel.msgmax", "net.core.somaxconn", "kernel.sem", "net.ipv4.ip_forward")
FORBIDDEN_SELINUX_TYPES = ("spc_t", "unconfined_t", "container_logreader_t")
FORBIDDEN_VOLUMES: dict[str, dict[str, Any]] = {
    "nfs": {"server": "nfs.example", "path": "/export"},
    "gitRepo": {"repository": "https://git.example/repo"},
    "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2001-04.com.example:x", "lun": 0},
    "cephfs": {"monitors": ["10.0.0.1:6789"]},
    "azureFile": {"secretName": "azure", "shareName": "share"},
}
ALLOWED_VOLUMES: dict[str, dict[str, Any]] = {
    "configMap": {"name": "settings"},
    "csi": {"driver": "csi.example"},
    "downwardAPI": {"items": []},
    "emptyDir": {},
    "ephemeral": {"volumeClaimTemplate": {"spec": {"accessModes": ["ReadWriteOnce"]}}},
    "image": {"reference": "registry.example/data:1"},
    "persistentVolumeClaim": {"claimName": "data"},
    "projected": {"sources": []},
    "secret": {"secretName": "keys"},
}


def hardened(**fields: Any) -> dict[str, Any]:
    """A container securityContext that restricted accepts once the pod sets non-root/seccomp."""
    return {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}, **fields}


def restricted_pod() -> Pod:
    """A pod meeting restricted, with one container of each kind: web, setup and debug."""
    return {
        "metadata": {"name": "app", "namespace": "shop", "uid": "pod-uid"},
        "spec": {
            "securityContext": {
                "runAsNonRoot": True,
                "seccompProfile": {"type": "RuntimeDefault"},
            },
            "initContainers": [
                {"name": "setup", "image": "busybox", "securityContext": hardened()}
            ],
            "containers": [{"name": "web", "image": "nginx", "securityContext": hardened()}],
            "ephemeralContainers": [
                {"name": "debug", "image": "busybox", "securityContext": hardened()}
            ],
        },
    }


def context_of(pod: Pod, where: str) -> dict[str, Any]:
    """The securityContext at `where` ("pod" or a container's name), created if missing."""
    owner = pod["spec"] if where == "pod" else container_of(pod, where)
    context: dict[str, Any] = owner.setdefault("securityContext", {})
    return context


def container_of(pod: Pod, name: str) -> dict[str, Any]:
    spec = pod["spec"]
    every = [*spec["initContainers"], *spec["containers"], *spec["ephemeralContainers"]]
    return next(item for item in every if item["name"] == name)


def edited(edit: Edit) -> Pod:
    pod = restricted_pod()
    edit(pod)
    return pod


def found(level: str, pod: Pod) -> set[tuple[str, str]]:
    return {(item.rule, item.where) for item in security.violations(level, pod)}


def setting(where: str, **fields: Any) -> Edit:
    """An edit setting `fields` in the securityContext at `where`."""
    return lambda pod: context_of(pod, where).update(fields)


def spec_setting(**fields: Any) -> Edit:
    return lambda pod: pod["spec"].update(fields)


def adding_volume(name: str, source: str, body: dict[str, Any]) -> Edit:
    return lambda pod: pod["spec"].setdefault("volumes", []).append({"name": name, source: body})


def removing(where: str, *keys: str) -> Edit:
    def edit(pod: Pod) -> None:
        for key in keys:
            context_of(pod, where).pop(key)

    return edit


def annotating(key: str, value: str) -> Edit:
    return lambda pod: pod["metadata"].setdefault("annotations", {}).update({key: value})


def both(*edits: Edit) -> Edit:
    def edit(pod: Pod) -> None:
        for step in edits:
            step(pod)

    return edit


def container_setting(name: str, **fields: Any) -> Edit:
    return lambda pod: container_of(pod, name).update(fields)


APPARMOR_WEB = security.APPARMOR_ANNOTATION + "web"
HTTP_PROBE = {"httpGet": {"path": "/healthz", "port": 8080}}

BASELINE_CASES = [
    pytest.param(setting("web", privileged=True), "privileged", "container web", id="privileged"),
    pytest.param(
        setting("setup", privileged=True),
        "privileged",
        "init container setup",
        id="privileged-init",
    ),
    pytest.param(
        setting("debug", privileged=True),
        "privileged",
        "ephemeral container debug",
        id="privileged-ephemeral",
    ),
    pytest.param(spec_setting(hostNetwork=True), "hostNamespaces", "pod", id="host-network"),
    pytest.param(spec_setting(hostPID=True), "hostNamespaces", "pod", id="host-pid"),
    pytest.param(spec_setting(hostIPC=True), "hostNamespaces", "pod", id="host-ipc"),
    pytest.param(
        adding_volume("logs", "hostPath", {"path": "/var/log"}), "hostPath", "volume logs", id="hp"
    ),
    pytest.param(
        container_setting("web", ports=[{"containerPort": 80, "hostPort": 8080}]),
        "hostPorts",
        "container web",
        id="host-port",
    ),
    pytest.param(
        container_setting("setup", ports=[{"containerPort": 53, "hostPort": 53}]),
        "hostPorts",
        "init container setup",
        id="host-port-init",
    ),
    pytest.param(
        setting("web", capabilities={"drop": ["ALL"], "add": ["NET_RAW"]}),
        "capabilities",
        "container web",
        id="net-raw",
    ),
    pytest.param(
        setting("debug", capabilities={"drop": ["ALL"], "add": ["SYS_ADMIN"]}),
        "capabilities",
        "ephemeral container debug",
        id="sys-admin-ephemeral",
    ),
    pytest.param(
        setting("pod", sysctls=[{"name": "kernel.msgmax", "value": "65536"}]),
        "sysctls",
        "pod",
        id="unsafe-sysctl",
    ),
    pytest.param(setting("web", procMount="Unmasked"), "procMount", "container web", id="proc"),
    pytest.param(
        setting("pod", seLinuxOptions={"type": "spc_t"}), "seLinux", "pod", id="selinux-type"
    ),
    pytest.param(
        setting("web", seLinuxOptions={"user": "system_u"}),
        "seLinux",
        "container web",
        id="selinux-user",
    ),
    pytest.param(
        setting("web", seLinuxOptions={"role": "system_r"}),
        "seLinux",
        "container web",
        id="selinux-role",
    ),
    pytest.param(
        setting("pod", appArmorProfile={"type": "Unconfined"}), "appArmor", "pod", id="apparmor"
    ),
    pytest.param(
        setting("web", appArmorProfile={"type": "Unconfined"}),
        "appArmor",
        "container web",
        id="apparmor-container",
    ),
    pytest.param(
        annotating(APPARMOR_WEB, "unconfined"), "appArmor", "pod", id="apparmor-annotation"
    ),
    pytest.param(
        setting("pod", seccompProfile={"type": "Unconfined"}), "seccomp", "pod", id="seccomp-pod"
    ),
    pytest.param(
        setting("setup", seccompProfile={"type": "Unconfined"}),
        "seccomp",
        "init container setup",
        id="seccomp-init",
    ),
    pytest.param(
        setting("pod", windowsOptions={"hostProcess": True}),
        "windowsHostProcess",
        "pod",
        id="host-process",
    ),
    pytest.param(
        setting("web", windowsOptions={"hostProcess": True}),
        "windowsHostProcess",
        "container web",
        id="host-process-container",
    ),
    pytest.param(
        container_setting("web", livenessProbe={"httpGet": {"port": 80, "host": "10.0.0.1"}}),
        "probeHost",
        "container web",
        id="probe-host",
    ),
    pytest.param(
        container_setting(
            "web", lifecycle={"preStop": {"tcpSocket": {"port": 80, "host": "metadata"}}}
        ),
        "probeHost",
        "container web",
        id="lifecycle-host",
    ),
]

RESTRICTED_CASES = [
    pytest.param(
        adding_volume("share", "nfs", FORBIDDEN_VOLUMES["nfs"]),
        "volumeTypes",
        "volume share",
        id="nfs",
    ),
    pytest.param(
        adding_volume("src", "gitRepo", FORBIDDEN_VOLUMES["gitRepo"]),
        "volumeTypes",
        "volume src",
        id="git-repo",
    ),
    pytest.param(
        removing("web", "allowPrivilegeEscalation"),
        "privilegeEscalation",
        "container web",
        id="escalation-unset",
    ),
    pytest.param(
        setting("setup", allowPrivilegeEscalation=True),
        "privilegeEscalation",
        "init container setup",
        id="escalation-true",
    ),
    pytest.param(setting("pod", runAsNonRoot=False), "runAsNonRoot", "pod", id="root-pod"),
    pytest.param(
        setting("web", runAsNonRoot=False), "runAsNonRoot", "container web", id="root-container"
    ),
    pytest.param(
        removing("pod", "runAsNonRoot"), "runAsNonRoot", "ephemeral container debug", id="unset"
    ),
    pytest.param(setting("pod", runAsUser=0), "runAsUser", "pod", id="uid-0-pod"),
    pytest.param(setting("web", runAsUser=0), "runAsUser", "container web", id="uid-0-container"),
    pytest.param(removing("pod", "seccompProfile"), "seccomp", "container web", id="seccomp-unset"),
    pytest.param(
        setting("web", capabilities={}),
        "restrictedCapabilities",
        "container web",
        id="no-drop-all",
    ),
    pytest.param(
        setting("debug", capabilities={"drop": ["ALL"], "add": ["CHOWN"]}),
        "restrictedCapabilities",
        "ephemeral container debug",
        id="default-capability-added",
    ),
    pytest.param(
        both(spec_setting(hostUsers=False), setting("web", procMount="Unmasked")),
        "procMount",
        "container web",
        id="proc-in-user-namespace",
    ),
]

ALLOWED_AT_BASELINE = [
    pytest.param(
        setting("pod", sysctls=[{"name": name, "value": "1"} for name in security.SAFE_SYSCTLS]),
        id="safe-sysctls",
    ),
    pytest.param(
        setting("web", capabilities={"add": sorted(security.BASELINE_CAPABILITIES)}),
        id="default-capabilities",
    ),
    *(
        pytest.param(setting("web", seLinuxOptions={"type": kind, "level": "s0:c1"}), id=kind)
        for kind in sorted(security.SELINUX_TYPES - {""})
    ),
    pytest.param(setting("pod", appArmorProfile={"type": "RuntimeDefault"}), id="apparmor"),
    pytest.param(
        setting("web", appArmorProfile={"type": "Localhost", "localhostProfile": "web"}),
        id="apparmor-localhost",
    ),
    pytest.param(annotating(APPARMOR_WEB, "runtime/default"), id="annotation-default"),
    pytest.param(annotating(APPARMOR_WEB, "localhost/web"), id="annotation-localhost"),
    pytest.param(
        setting("pod", seccompProfile={"type": "Localhost", "localhostProfile": "p.json"}),
        id="seccomp-localhost",
    ),
    pytest.param(container_setting("web", ports=[{"containerPort": 80, "hostPort": 0}]), id="p0"),
    pytest.param(
        container_setting("web", readinessProbe={"tcpSocket": {"port": 80, "host": ""}}),
        id="empty-probe-host",
    ),
    pytest.param(setting("web", procMount="Default"), id="proc-default"),
    pytest.param(
        both(spec_setting(hostUsers=False), setting("web", procMount="Unmasked")),
        id="proc-unmasked-in-user-namespace",
    ),
    pytest.param(setting("web", windowsOptions={"hostProcess": False}), id="host-process-false"),
    pytest.param(spec_setting(hostNetwork=False, hostPID=False, hostIPC=False), id="no-host-ns"),
    pytest.param(setting("web", privileged=False), id="privileged-false"),
    *(
        pytest.param(adding_volume("data", source, body), id=f"volume-{source}")
        for source, body in FORBIDDEN_VOLUMES.items()
    ),
    pytest.param(removing("pod", "runAsNonRoot", "seccompProfile"), id="baseline-only"),
]

ALLOWED_AT_RESTRICTED = [
    pytest.param(
        setting("web", capabilities={"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}), id="bind"
    ),
    pytest.param(
        both(
            removing("pod", "runAsNonRoot"),
            *(setting(name, runAsNonRoot=True) for name in ("web", "setup", "debug")),
        ),
        id="non-root-per-container",
    ),
    pytest.param(
        both(
            removing("pod", "seccompProfile"),
            setting("web", seccompProfile={"type": "Localhost", "localhostProfile": "p.json"}),
            *(
                setting(name, seccompProfile={"type": "RuntimeDefault"})
                for name in ("setup", "debug")
            ),
        ),
        id="seccomp-per-container",
    ),
    pytest.param(
        both(spec_setting(hostUsers=False), setting("pod", runAsUser=0, runAsNonRoot=False)),
        id="root-in-user-namespace",
    ),
    pytest.param(setting("web", runAsUser=1000, runAsNonRoot=True), id="uid-1000"),
    pytest.param(setting("pod", seLinuxOptions={"level": "s0:c123,c456"}), id="selinux-level"),
    *(
        pytest.param(adding_volume("data", source, body), id=f"volume-{source}")
        for source, body in ALLOWED_VOLUMES.items()
    ),
    pytest.param(
        both(
            spec_setting(os={"name": "windows"}),
            removing("pod", "seccompProfile"),
            *(
                removing(name, "allowPrivilegeEscalation", "capabilities")
                for name in ("web", "setup", "debug")
            ),
        ),
        id="windows-exemptions",
    ),
]


def test_the_restricted_example_meets_every_level() -> None:
    pod = restricted_pod()

    assert {level: security.violations(level, pod) for level in security.LEVELS} == {
        "privileged": [],
        "baseline": [],
        "restricted": [],
    }


@pytest.mark.parametrize(("edit", "rule", "where"), BASELINE_CASES)
def test_a_baseline_rule_refuses_at_baseline_and_restricted_but_not_privileged(
    edit: Edit, rule: str, where: str
) -> None:
    pod = edited(edit)

    assert (rule, where) in found("baseline", pod)
    assert (rule, where) in found("restricted", pod)
    assert security.violations("privileged", pod) == []


@pytest.mark.parametrize(("edit", "rule", "where"), RESTRICTED_CASES)
def test_a_restricted_rule_refuses_at_restricted_but_not_baseline(
    edit: Edit, rule: str, where: str
) -> None:
    pod = edited(edit)

    assert (rule, where) in found("restricted", pod)
    assert security.violations("baseline", pod) == []


@pytest.mark.parametrize("edit", ALLOWED_AT_BASELINE)
def test_baseline_allows(edit: Edit) -> None:
    assert security.violations("baseline", edited(edit)) == []


@pytest.mark.parametrize("edit", ALLOWED_AT_RESTRICTED)
def test_restricted_allows(edit: Edit) -> None:
    assert security.violations("restricted", edited(edit)) == []


def test_restricted_still_refuses_a_user_namespaced_pod_unmasking_proc() -> None:
    pod = edited(both(spec_setting(hostUsers=False), setting("web", procMount="Unmasked")))

    assert found("restricted", pod) == {("procMount", "container web")}


def test_a_windows_pod_still_meets_baseline_rules_under_restricted() -> None:
    pod = edited(both(spec_setting(os={"name": "windows"}), setting("web", privileged=True)))

    assert ("privileged", "container web") in found("restricted", pod)


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown pod security level 'strict'"):
        security.violations("strict", restricted_pod())


def test_a_message_names_the_field_its_fix_and_the_level_that_would_allow_it() -> None:
    (violation,) = security.violations("baseline", edited(setting("web", privileged=True)))

    assert violation.where == "container web"
    assert "securityContext.privileged=true" in violation.message
    assert "set it false" in violation.message
    assert "spec.isolation.podSecurity would have to be privileged" in violation.message


def test_a_restricted_message_asks_only_for_baseline() -> None:
    (violation,) = security.violations("restricted", edited(setting("web", runAsUser=0)))

    assert violation.allowed_at == "baseline"
    assert violation.message.endswith("would have to be baseline)")


def test_summary_of_nothing_is_empty() -> None:
    assert security.summary([]) == ""


def test_summary_is_one_line_naming_each_place_and_the_most_permissive_level_needed() -> None:
    pod = edited(both(setting("web", runAsUser=0), spec_setting(hostPID=True)))

    text = security.summary(security.violations("restricted", pod))

    assert "\n" not in text
    assert "pod: hostPID=true" in text
    assert "container web: securityContext.runAsUser=0" in text
    assert text.endswith("spec.isolation.podSecurity would have to be privileged")


def test_summary_counts_what_it_does_not_spell_out() -> None:
    pod = edited(
        both(*(setting(name, privileged=True, procMount="Unmasked") for name in ("web", "setup")))
    )
    pod["spec"]["hostIPC"] = True
    pod["spec"]["securityContext"]["sysctls"] = [{"name": "kernel.sem", "value": "1"}]

    text = security.summary(security.violations("baseline", pod))

    assert text.count("; ") == security.SUMMARY_ITEMS + 1
    assert "and 0 more" not in text
    assert "and 1 more" in text


# Properties. Containers are named by kind so that `where` can be predicted.

KINDS = (
    ("initContainers", "init", "init container"),
    ("containers", "app", "container"),
    ("ephemeralContainers", "debug", "ephemeral container"),
)
VALID_SECCOMP = strategies.sampled_from(
    [{"type": "RuntimeDefault"}, {"type": "Localhost", "localhostProfile": "profiles/app.json"}]
)


@strategies.composite
def hardened_containers(
    draw: strategies.DrawFn, kind: str, prefix: str, *, count: int, non_root: bool, seccomp: bool
) -> list[dict[str, Any]]:
    """`count` containers that meet restricted, given what the pod level already sets."""
    containers = []
    for index in range(count):
        context = hardened()
        context["capabilities"]["drop"] += draw(
            strategies.lists(strategies.sampled_from(["NET_RAW", "CHOWN"]), max_size=1)
        )
        if draw(strategies.booleans()):
            context["capabilities"]["add"] = ["NET_BIND_SERVICE"]
        if not non_root or draw(strategies.booleans()):
            context["runAsNonRoot"] = True
        if not seccomp or draw(strategies.booleans()):
            context["seccompProfile"] = draw(VALID_SECCOMP)
        if draw(strategies.booleans()):
            context["runAsUser"] = draw(strategies.integers(min_value=1, max_value=2**31 - 1))
        if draw(strategies.booleans()):
            context["seLinuxOptions"] = {
                "type": draw(strategies.sampled_from(sorted(security.SELINUX_TYPES))),
                "level": "s0:c1,c2",
            }
        if draw(strategies.booleans()):
            context["appArmorProfile"] = {"type": "RuntimeDefault"}
        if draw(strategies.booleans()):
            context["procMount"] = "Default"
        container: dict[str, Any] = {
            "name": f"{prefix}{index}",
            "image": "registry.example/app:1",
            "securityContext": context,
        }
        if kind == "containers" and draw(strategies.booleans()):
            container["ports"] = [{"containerPort": 8080, "hostPort": 0}]
            container["livenessProbe"] = {"httpGet": {"path": "/", "port": 8080}}
        containers.append(container)
    return containers


@strategies.composite
def restricted_pods(draw: strategies.DrawFn) -> Pod:
    """The "make it restricted" strategy: any pod built this way must pass restricted."""
    non_root, seccomp = draw(strategies.booleans()), draw(strategies.booleans())
    context: dict[str, Any] = {}
    if non_root:
        context["runAsNonRoot"] = True
    if seccomp:
        context["seccompProfile"] = draw(VALID_SECCOMP)
    if draw(strategies.booleans()):
        context["runAsUser"] = draw(strategies.integers(min_value=1, max_value=65535))
    sysctls = draw(
        strategies.lists(
            strategies.sampled_from(sorted(security.SAFE_SYSCTLS)), unique=True, max_size=3
        )
    )
    if sysctls:
        context["sysctls"] = [{"name": name, "value": "1"} for name in sysctls]

    spec: dict[str, Any] = {"securityContext": context}
    counts = {"initContainers": (0, 2), "containers": (1, 3), "ephemeralContainers": (0, 1)}
    for field, prefix, _ in KINDS:
        low, high = counts[field]
        count = draw(strategies.integers(min_value=low, max_value=high))
        spec[field] = draw(
            hardened_containers(field, prefix, count=count, non_root=non_root, seccomp=seccomp)
        )
    sources = draw(strategies.lists(strategies.sampled_from(sorted(ALLOWED_VOLUMES)), max_size=3))
    spec["volumes"] = [
        {"name": f"vol{index}", source: ALLOWED_VOLUMES[source]}
        for index, source in enumerate(sources)
    ]
    host_users = draw(strategies.sampled_from([None, True, False]))
    if host_users is not None:
        spec["hostUsers"] = host_users
    if draw(strategies.booleans()):
        spec["os"] = {"name": "linux"}
    return {"metadata": {"name": "pod", "namespace": "shop", "uid": "pod-uid"}, "spec": spec}


def pick_container(data: strategies.DataObject, pod: Pod) -> tuple[str, dict[str, Any]]:
    """A container of the pod, any kind, with the `where` naming it."""
    every: list[tuple[str, dict[str, Any]]] = [
        (f"{kind} {container['name']}", container)
        for field, _, kind in KINDS
        for container in pod["spec"][field]
    ]
    chosen: tuple[str, dict[str, Any]] = data.draw(strategies.sampled_from(every))
    return chosen


def pick_context(data: strategies.DataObject, pod: Pod) -> tuple[str, dict[str, Any]]:
    """The pod's securityContext or a container's, with the `where` naming it."""
    if data.draw(strategies.booleans()):
        return "pod", pod["spec"]["securityContext"]
    where, container = pick_container(data, pod)
    return where, container["securityContext"]


def run_privileged(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    container["securityContext"]["privileged"] = True
    return "privileged", where, "baseline"


def share_host_namespace(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    key = data.draw(strategies.sampled_from(["hostNetwork", "hostPID", "hostIPC"]))
    pod["spec"][key] = True
    return "hostNamespaces", "pod", "baseline"


def mount_host_path(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    path = data.draw(strategies.sampled_from(["/", "/var/run/docker.sock", "/etc"]))
    pod["spec"]["volumes"].append({"name": "host", "hostPath": {"path": path}})
    return "hostPath", "volume host", "baseline"


def open_host_port(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    port = data.draw(strategies.integers(min_value=1, max_value=65535))
    container.setdefault("ports", []).append({"containerPort": 9000, "hostPort": port})
    return "hostPorts", where, "baseline"


def add_capability(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    capability = data.draw(strategies.sampled_from(NON_DEFAULT_CAPABILITIES))
    container["securityContext"]["capabilities"].setdefault("add", []).append(capability)
    return "capabilities", where, "baseline"


def set_unsafe_sysctl(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    name = data.draw(strategies.sampled_from(UNSAFE_SYSCTLS))
    pod["spec"]["securityContext"].setdefault("sysctls", []).append({"name": name, "value": "1"})
    return "sysctls", "pod", "baseline"


def unmask_proc(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    container["securityContext"]["procMount"] = "Unmasked"
    # In a user namespace of its own a pod may unmask /proc under baseline, never restricted.
    return "procMount", where, "restricted" if pod["spec"].get("hostUsers") is False else "baseline"


def relabel(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, context = pick_context(data, pod)
    context["seLinuxOptions"] = data.draw(
        strategies.one_of(
            strategies.builds(dict, type=strategies.sampled_from(FORBIDDEN_SELINUX_TYPES)),
            strategies.just({"user": "system_u"}),
            strategies.just({"role": "system_r", "type": "container_t"}),
        )
    )
    return "seLinux", where, "baseline"


def unconfine_app_armor(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    if data.draw(strategies.booleans()):
        where, container = pick_container(data, pod)
        key = security.APPARMOR_ANNOTATION + container["name"]
        pod["metadata"].setdefault("annotations", {})[key] = "unconfined"
        return "appArmor", "pod", "baseline"
    where, context = pick_context(data, pod)
    context["appArmorProfile"] = {"type": "Unconfined"}
    return "appArmor", where, "baseline"


def unconfine_seccomp(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, context = pick_context(data, pod)
    context["seccompProfile"] = {"type": "Unconfined"}
    return "seccomp", where, "baseline"


def run_host_process(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, context = pick_context(data, pod)
    context["windowsOptions"] = {"hostProcess": True}
    return "windowsHostProcess", where, "baseline"


def probe_another_host(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    action = data.draw(strategies.sampled_from(["httpGet", "tcpSocket"]))
    handler = {action: {"port": 80, "host": "169.254.169.254"}}
    if data.draw(strategies.booleans()):
        container[data.draw(strategies.sampled_from(security.PROBES))] = handler
    else:
        hook = data.draw(strategies.sampled_from(security.LIFECYCLE_HANDLERS))
        container["lifecycle"] = {hook: handler}
    return "probeHost", where, "baseline"


def mount_restricted_volume(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    source = data.draw(strategies.sampled_from(sorted(FORBIDDEN_VOLUMES)))
    pod["spec"]["volumes"].append({"name": "remote", source: FORBIDDEN_VOLUMES[source]})
    return "volumeTypes", "volume remote", "restricted"


def allow_escalation(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    if data.draw(strategies.booleans()):
        container["securityContext"]["allowPrivilegeEscalation"] = True
    else:
        container["securityContext"].pop("allowPrivilegeEscalation", None)
    return "privilegeEscalation", where, "restricted"


def run_as_root(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    # Root is only refused outside a user namespace of the pod's own.
    pod["spec"].pop("hostUsers", None)
    where, context = pick_context(data, pod)
    context["runAsUser"] = 0
    return "runAsUser", where, "restricted"


def allow_root(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    pod["spec"].pop("hostUsers", None)
    choice = data.draw(strategies.sampled_from(["pod false", "container false", "unset"]))
    if choice == "pod false":
        pod["spec"]["securityContext"]["runAsNonRoot"] = False
        return "runAsNonRoot", "pod", "restricted"
    where, container = pick_container(data, pod)
    if choice == "container false":
        container["securityContext"]["runAsNonRoot"] = False
    else:
        pod["spec"]["securityContext"].pop("runAsNonRoot", None)
        container["securityContext"].pop("runAsNonRoot", None)
    return "runAsNonRoot", where, "restricted"


def leave_seccomp_unset(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    pod["spec"]["securityContext"].pop("seccompProfile", None)
    container["securityContext"].pop("seccompProfile", None)
    return "seccomp", where, "restricted"


def keep_capabilities(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    where, container = pick_container(data, pod)
    capabilities = container["securityContext"]["capabilities"]
    if data.draw(strategies.booleans()):
        capabilities["drop"] = [name for name in capabilities["drop"] if name != "ALL"]
    else:
        allowed = sorted(security.BASELINE_CAPABILITIES - security.RESTRICTED_CAPABILITIES)
        capabilities.setdefault("add", []).append(data.draw(strategies.sampled_from(allowed)))
    return "restrictedCapabilities", where, "restricted"


def unmask_proc_in_user_namespace(data: strategies.DataObject, pod: Pod) -> tuple[str, str, str]:
    pod["spec"]["hostUsers"] = False
    where, container = pick_container(data, pod)
    container["securityContext"]["procMount"] = "Unmasked"
    return "procMount", where, "restricted"


FORBIDDEN_EDITS: tuple[DrawnEdit, ...] = (
    run_privileged,
    share_host_namespace,
    mount_host_path,
    open_host_port,
    add_capability,
    set_unsafe_sysctl,
    unmask_proc,
    relabel,
    unconfine_app_armor,
    unconfine_seccomp,
    run_host_process,
    probe_another_host,
    mount_restricted_volume,
    allow_escalation,
    run_as_root,
    allow_root,
    leave_seccomp_unset,
    keep_capabilities,
    unmask_proc_in_user_namespace,
)


@PROPERTY
@hypothesis.given(pod=restricted_pods())
def test_a_pod_made_restricted_meets_every_level(pod: Pod) -> None:
    for level in security.LEVELS:
        assert security.violations(level, pod) == [], level


@PROPERTY
@hypothesis.given(
    pod=restricted_pods(),
    edits=strategies.lists(strategies.sampled_from(FORBIDDEN_EDITS), max_size=4),
    data=strategies.data(),
)
def test_levels_nest_and_the_pod_is_left_unchanged(
    pod: Pod, edits: list[DrawnEdit], data: strategies.DataObject
) -> None:
    for edit in edits:
        edit(data, pod)
    before = copy.deepcopy(pod)

    restricted = security.violations("restricted", pod)
    baseline = security.violations("baseline", pod)

    assert security.violations("privileged", pod) == []
    assert [item for item in baseline if item not in restricted] == []
    assert bool(baseline) <= bool(restricted)
    assert pod == before


# Hypothesis draws unevenly from a list of edits: each edit gets examples of its own.
@pytest.mark.parametrize("edit", FORBIDDEN_EDITS, ids=lambda edit: edit.__name__)
@hypothesis.settings(PROPERTY, max_examples=25)
@hypothesis.given(pod=restricted_pods(), data=strategies.data())
def test_one_forbidden_change_is_caught_by_its_rule_where_it_was_made(
    edit: DrawnEdit, pod: Pod, data: strategies.DataObject
) -> None:
    rule, where, level = edit(data, pod)

    assert (rule, where) in found(level, pod)
    assert (rule, where) in found("restricted", pod)
    less_strict = security.LEVELS[security.LEVELS.index(level) - 1]
    assert security.violations(less_strict, pod) == []
