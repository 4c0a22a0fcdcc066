"""The pod security rules (`pods.security`) judged against the super API server's own.

Every pod here is sent as a dry run (`?dryRun=All`: admitted or refused, never stored) to
namespaces whose PodSecurity admission enforces privileged, baseline and restricted at version
`latest`, and is checked by `security.violations` too. Both must allow it or both refuse it,
and for the same reasons (the admission names its reasons; each rule maps to one).

- Hypothesis builds valid pods aimed at each level: hardened for restricted, then given
  settings each level allows or forbids. atoll judges the pod the server returns from the
  privileged namespace, defaulted as a tenant API server defaults it, as the syncer would.
- Ephemeral containers cannot be set on create: generated ones are added to a stored hardened
  pod through its `ephemeralcontainers` subresource.
- Every value of every list the rules hold (capabilities, sysctls, SELinux types, profile
  types, volume types, probe hosts…), and values just outside them, one pod each: the lists
  are written out here, so that the server, not `security`, says which values pass.

Hypothesis and the event loop: `@given` wraps a plain function, while the API client lives on
pytest-asyncio's session loop. Each async test therefore runs its hypothesis test in a worker
thread (`asyncio.to_thread`), and every example hands its API calls back to the session loop
with `asyncio.run_coroutine_threadsafe`, waiting with a deadline. The loop stays free to serve
the client meanwhile, and no second loop is ever started.
"""

from __future__ import annotations

import asyncio
import copy
import re
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any, TypeVar

import hypothesis
import pytest
import pytest_asyncio
from hypothesis import strategies

from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer.pods import security

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

Pod = dict[str, Any]
T = TypeVar("T")

ORACLE = hypothesis.settings(database=None, max_examples=60, deadline=None)
EPHEMERAL = hypothesis.settings(ORACLE, max_examples=30)
CALL_TIMEOUT = 30.0
DRY_RUN = {"dryRun": "All"}
ENFORCE = "pod-security.kubernetes.io/enforce"
ENFORCE_VERSION = "pod-security.kubernetes.io/enforce-version"
REFUSAL = re.compile(r'violates PodSecurity "[^"]+": (.*)', re.DOTALL)
IMAGE = "registry.invalid/app:1"

# The admission's reason for each rule; at restricted it checks two of them in its own way.
REASONS = {
    "windowsHostProcess": "hostProcess",
    "hostNamespaces": "host namespaces",
    "sysctls": "forbidden sysctls",
    "hostPath": "hostPath volumes",
    "privileged": "privileged",
    "capabilities": "non-default capabilities",
    "hostPorts": "hostPort",
    "probeHost": "probe or lifecycle host",
    "procMount": "procMount",
    "seLinux": "seLinuxOptions",
    "appArmor": "forbidden AppArmor profile",
    "seccomp": "seccompProfile",
    "volumeTypes": "restricted volume types",
    "runAsNonRoot": "runAsNonRoot != true",
    "runAsUser": "runAsUser=0",
    "privilegeEscalation": "allowPrivilegeEscalation != false",
    "restrictedCapabilities": "unrestricted capabilities",
}
RESTRICTED_REASONS = {
    "capabilities": "unrestricted capabilities",
    "hostPath": "restricted volume types",
}

HARDENED = {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}}
VALID_SECCOMP = [
    {"type": "RuntimeDefault"},
    {"type": "Localhost", "localhostProfile": "profiles/audit.json"},
]
VALID_APPARMOR = [
    {"type": "RuntimeDefault"},
    {"type": "Localhost", "localhostProfile": "k8s-apparmor-example"},
]
ALLOWED_VOLUMES: dict[str, dict[str, Any]] = {
    "configMap": {"name": "settings"},
    "secret": {"secretName": "keys"},
    "emptyDir": {},
    "downwardAPI": {"items": [{"path": "name", "fieldRef": {"fieldPath": "metadata.name"}}]},
    "projected": {"sources": [{"configMap": {"name": "settings"}}]},
    "persistentVolumeClaim": {"claimName": "data"},
    "csi": {"driver": "inline.csi.example"},
    "ephemeral": {
        "volumeClaimTemplate": {
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": "1Gi"}},
            }
        }
    },
    "image": {"reference": "registry.invalid/data:1", "pullPolicy": "IfNotPresent"},
}
IPC_SYSCTLS = ("kernel.", "fs.mqueue.")  # sysctls of the IPC namespace: not with hostIPC
NET_SYSCTLS = ("net.",)  # sysctls of the network namespace: not with hostNetwork


def words(text: str) -> list[str]:
    return text.split()


# Written out here, not read from `security`: the server says which of them pass.
LINUX_CAPABILITIES = words(
    "AUDIT_CONTROL AUDIT_READ AUDIT_WRITE BLOCK_SUSPEND BPF CHECKPOINT_RESTORE CHOWN "
    "DAC_OVERRIDE DAC_READ_SEARCH FOWNER FSETID IPC_LOCK IPC_OWNER KILL LEASE LINUX_IMMUTABLE "
    "MAC_ADMIN MAC_OVERRIDE MKNOD NET_ADMIN NET_BIND_SERVICE NET_BROADCAST NET_RAW PERFMON "
    "SETFCAP SETGID SETPCAP SETUID SYS_ADMIN SYS_BOOT SYS_CHROOT SYS_MODULE SYS_NICE SYS_PACCT "
    "SYS_PTRACE SYS_RAWIO SYS_RESOURCE SYS_TIME SYS_TTY_CONFIG SYSLOG WAKE_ALARM ALL CAP_CHOWN"
)
SAFE_SYSCTLS = ["kernel.shm_rmid_forced"] + [
    f"net.ipv4.{name}"
    for name in words(
        "ip_local_port_range ip_local_reserved_ports ip_unprivileged_port_start "
        "ping_group_range tcp_fin_timeout tcp_keepalive_intvl tcp_keepalive_probes "
        "tcp_keepalive_time tcp_notsent_lowat tcp_rmem tcp_slow_start_after_idle "
        "tcp_syncookies tcp_wmem"
    )
]
UNSAFE_SYSCTLS = words(
    "kernel.msgmax kernel.sem kernel.shmmax fs.mqueue.msg_max net.core.somaxconn "
    "net.ipv4.ip_forward net.ipv4.tcp_max_syn_backlog net.ipv4.tcp_tw_reuse "
    "net.ipv4.tcp_congestion_control net.ipv4.conf.all.route_localnet "
    "net.ipv6.conf.all.forwarding"
)
SAFE_SELINUX_TYPES = ["", *words("container_t container_init_t container_kvm_t container_engine_t")]
UNSAFE_SELINUX_TYPES = words("spc_t unconfined_t container_logreader_t svirt_lxc_net_t")


def run(loop: asyncio.AbstractEventLoop, call: Coroutine[Any, Any, T]) -> T:
    """Run `call` on the session loop from hypothesis's worker thread, with a deadline."""
    return asyncio.run_coroutine_threadsafe(call, loop).result(timeout=CALL_TIMEOUT)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def level_namespaces(api: kube_client.Client) -> AsyncIterator[dict[str, str]]:
    """One namespace per level, each enforcing it at `latest`, with its ServiceAccount made."""
    suffix = uuid.uuid4().hex[:6]
    names = {level: f"pss-{level}-{suffix}" for level in security.LEVELS}
    for level, name in names.items():
        labels = {ENFORCE: level, ENFORCE_VERSION: "latest"}
        await api.create(
            resources.NAMESPACES.path(), {"metadata": {"name": name, "labels": labels}}
        )

    # The ServiceAccount admission refuses pods until the namespace's default account exists.
    async def accounts_ready() -> bool:
        for name in names.values():
            try:
                await api.get(resources.SERVICEACCOUNTS.path(name, "default"))
            except errors.NotFound:
                return False
        return True

    await wait.until(accounts_ready, timeout=60, what="the default ServiceAccounts")
    yield names
    for name in names.values():
        await api.delete(resources.NAMESPACES.path(name=name))


async def dry_run(api: kube_client.Client, path: str, body: Pod, method: str = "POST") -> str | Pod:
    """The pod the server would store, or the reasons its PodSecurity admission refuses it."""
    try:
        return await api.request(method, path, params=DRY_RUN, body=body)
    except errors.Forbidden as error:
        message = str(error)
    refusal = REFUSAL.search(message)
    assert refusal is not None, f"refused, but not by PodSecurity: {message}"
    return refusal.group(1)


def server_reasons(refusal: str) -> set[str]:
    """The admission's reasons: `reason (detail), reason (detail)…`; details hold commas too."""
    items, depth, start = [], 0, 0
    for index, char in enumerate(refusal):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0 and refusal.startswith(", ", index):
            items.append(refusal[start:index])
            start = index + 2
    items.append(refusal[start:])
    reasons = {item.split(" (", 1)[0] for item in items}
    # The AppArmor reason alone is pluralized by the number of profiles it found.
    return {reason.removesuffix("s") if "AppArmor" in reason else reason for reason in reasons}


def expected_reasons(level: str, found: list[security.Violation]) -> set[str]:
    overrides = RESTRICTED_REASONS if level == "restricted" else {}
    return {overrides.get(item.rule, REASONS[item.rule]) for item in found}


def disagreement(level: str, tenant_pod: Pod, verdict: str | Pod) -> str | None:
    """How atoll's verdict on `tenant_pod` at `level` differs from the server's; None if not."""
    found = security.violations(level, tenant_pod)
    if isinstance(verdict, dict):
        return f"{level}: the server allows what atoll refuses: {found}" if found else None
    if not found:
        return f"{level}: the server refuses what atoll allows: {verdict}"
    if expected_reasons(level, found) != server_reasons(verdict):
        return f"{level}: atoll refuses for {[item.rule for item in found]}, the server: {verdict}"
    return None


def agree(level: str, tenant_pod: Pod, verdict: str | Pod) -> bool:
    """Whether the server refused `tenant_pod` at `level`, once atoll is seen to agree."""
    problem = disagreement(level, tenant_pod, verdict)
    assert problem is None, problem
    return not isinstance(verdict, dict)


# Generation. Every setting keeps the pod valid, or leaves it as it is where it cannot, and
# is filed under the least strict level that allows it.

Setting = Callable[[strategies.DrawFn, dict[str, Any]], None]  # on one securityContext
Feature = Callable[[strategies.DrawFn, Pod], None]
Groups = dict[str, tuple[Any, ...]]  # level -> settings or features first allowed there


def choose(draw: strategies.DrawFn, choices: list[dict[str, Any]]) -> dict[str, Any]:
    chosen: dict[str, Any] = copy.deepcopy(draw(strategies.sampled_from(choices)))
    return chosen


def setting(key: str, choices: list[Any]) -> Setting:
    return lambda draw, context: context.update(
        {key: copy.deepcopy(draw(strategies.sampled_from(choices)))}
    )


def add_capability(choices: list[str]) -> Setting:
    def add(draw: strategies.DrawFn, context: dict[str, Any]) -> None:
        added = context.setdefault("capabilities", {}).setdefault("add", [])
        capability = draw(strategies.sampled_from(choices))
        if capability not in added:
            added.append(capability)

    return add


def allow_escalation(draw: strategies.DrawFn, context: dict[str, Any]) -> None:
    if draw(strategies.booleans()):
        context["allowPrivilegeEscalation"] = True
    else:
        context.pop("allowPrivilegeEscalation", None)


def run_privileged(_draw: strategies.DrawFn, context: dict[str, Any]) -> None:
    # A privileged container may not also refuse privilege escalation.
    if context.get("allowPrivilegeEscalation") is False:
        del context["allowPrivilegeEscalation"]
    context["privileged"] = True


def drop_nothing(_draw: strategies.DrawFn, context: dict[str, Any]) -> None:
    context.pop("capabilities", None)


ALLOWED_SELINUX = [{"type": kind, "level": "s0:c1,c2"} for kind in SAFE_SELINUX_TYPES]
FORBIDDEN_SELINUX = [
    *({"type": kind} for kind in UNSAFE_SELINUX_TYPES),
    {"user": "system_u"},
    {"role": "system_r"},
]
# Settings a pod's securityContext has as well as a container's.
CONTEXT_SETTINGS: Groups = {
    "restricted": (
        setting("seLinuxOptions", [*ALLOWED_SELINUX, {"level": "s0:c7"}]),
        setting("seccompProfile", VALID_SECCOMP),
        setting("runAsUser", [1000, 65534]),
        setting("runAsNonRoot", [True]),
    ),
    "baseline": (setting("runAsUser", [0]), setting("runAsNonRoot", [False])),
    "privileged": (
        setting("seLinuxOptions", FORBIDDEN_SELINUX),
        setting("seccompProfile", [{"type": "Unconfined"}]),
    ),
}
CONTAINER_SETTINGS: Groups = {
    "restricted": (add_capability(["NET_BIND_SERVICE"]), setting("procMount", ["Default"])),
    "baseline": (add_capability(["CHOWN", "KILL", "SETUID"]), drop_nothing, allow_escalation),
    "privileged": (run_privileged, add_capability(["SYS_ADMIN", "NET_RAW", "SYS_PTRACE"])),
}
APP_ARMOR_SETTINGS: Groups = {
    "restricted": (setting("appArmorProfile", VALID_APPARMOR),),
    "baseline": (),
    "privileged": (setting("appArmorProfile", [{"type": "Unconfined"}]),),
}


def containers_of(pod: Pod, *fields: str) -> Iterator[dict[str, Any]]:
    for field in fields or ("initContainers", "containers"):
        yield from pod["spec"].get(field) or []


def pick(draw: strategies.DrawFn, pod: Pod, *fields: str) -> dict[str, Any]:
    chosen: dict[str, Any] = draw(strategies.sampled_from(list(containers_of(pod, *fields))))
    return chosen


def on_context(change: Setting) -> Feature:
    """`change` applied to the pod's securityContext or to a container's."""

    def feature(draw: strategies.DrawFn, pod: Pod) -> None:
        owner = pod["spec"] if draw(strategies.booleans()) else pick(draw, pod)
        change(draw, owner.setdefault("securityContext", {}))

    return feature


def on_container(change: Setting) -> Feature:
    return lambda draw, pod: change(draw, pick(draw, pod).setdefault("securityContext", {}))


def on_unannotated_context(change: Setting) -> Feature:
    # An AppArmor field must match an annotation for the same container: keep to one kind.
    def feature(draw: strategies.DrawFn, pod: Pod) -> None:
        if not app_armor_annotated(pod):
            on_context(change)(draw, pod)

    return feature


def app_armor_annotated(pod: Pod) -> bool:
    annotations = pod["metadata"].get("annotations") or {}
    return any(key.startswith(security.APPARMOR_ANNOTATION) for key in annotations)


def annotate_app_armor(value: str) -> Feature:
    def feature(draw: strategies.DrawFn, pod: Pod) -> None:
        container = pick(draw, pod)
        pod_level = (pod["spec"].get("securityContext") or {}).get("appArmorProfile")
        if pod_level is None and "appArmorProfile" not in container.get("securityContext", {}):
            key = security.APPARMOR_ANNOTATION + container["name"]
            pod["metadata"].setdefault("annotations", {})[key] = value

    return feature


def add_volume(source: str, body: dict[str, Any] | None = None) -> Feature:
    def feature(_draw: strategies.DrawFn, pod: Pod) -> None:
        volumes = pod["spec"].setdefault("volumes", [])
        content = copy.deepcopy(ALLOWED_VOLUMES[source] if body is None else body)
        volumes.append({"name": f"vol{len(volumes)}", source: content})

    return feature


def add_sysctl(names: list[str]) -> Feature:
    def feature(draw: strategies.DrawFn, pod: Pod) -> None:
        spec, name = pod["spec"], draw(strategies.sampled_from(names))
        sysctls = spec.setdefault("securityContext", {}).setdefault("sysctls", [])
        shared = (spec.get("hostIPC") and name.startswith(IPC_SYSCTLS)) or (
            spec.get("hostNetwork") and name.startswith(NET_SYSCTLS)
        )
        if not shared and name not in {item["name"] for item in sysctls}:
            sysctls.append({"name": name, "value": "1"})

    return feature


def add_port(*, on_host: bool) -> Feature:
    # Host ports are unique in a pod, and equal to the container port on the host network.
    def feature(draw: strategies.DrawFn, pod: Pod) -> None:
        container = pick(draw, pod)
        ports = container.setdefault("ports", [])
        number = 9000 + 100 * list(containers_of(pod)).index(container) + len(ports)
        ports.append({"containerPort": number, **({"hostPort": number} if on_host else {})})

    return feature


def probe(host: str) -> Feature:
    # Only regular containers may have probes and lifecycle hooks.
    def feature(draw: strategies.DrawFn, pod: Pod) -> None:
        container = pick(draw, pod, "containers")
        target = {"path": "/healthz", "port": 8080, **({"host": host} if host else {})}
        if draw(strategies.booleans()):
            container["livenessProbe"] = {"httpGet": target}
        else:
            container["lifecycle"] = {"preStop": {"httpGet": target}}

    return feature


def share_host_namespace(draw: strategies.DrawFn, pod: Pod) -> None:
    spec = pod["spec"]
    key = draw(strategies.sampled_from(["hostNetwork", "hostPID", "hostIPC"]))
    # Not in a user namespace of its own, nor with sysctls of the namespace it would share.
    sysctls = [item["name"] for item in (spec.get("securityContext") or {}).get("sysctls") or []]
    shared = {"hostNetwork": NET_SYSCTLS, "hostIPC": IPC_SYSCTLS}.get(key, ())
    if spec.get("hostUsers") is not False and not any(
        shared and name.startswith(shared) for name in sysctls
    ):
        spec[key] = True


def unmask_proc_in_user_namespace(draw: strategies.DrawFn, pod: Pod) -> None:
    spec = pod["spec"]
    if not any(spec.get(key) for key in ("hostNetwork", "hostPID", "hostIPC")):
        spec["hostUsers"] = False
        pick(draw, pod).setdefault("securityContext", {})["procMount"] = "Unmasked"


def unset_seccomp(draw: strategies.DrawFn, pod: Pod) -> None:
    (pod["spec"].get("securityContext") or {}).pop("seccompProfile", None)
    pick(draw, pod).get("securityContext", {}).pop("seccompProfile", None)


def run_host_process(_draw: strategies.DrawFn, pod: Pod) -> None:
    # HostProcess pods run on the host network, every container a HostProcess one.
    pod["spec"]["hostNetwork"] = True
    pod["spec"].setdefault("securityContext", {})["windowsOptions"] = {"hostProcess": True}


def settings_as_features(groups: Groups, wrap: Callable[[Setting], Feature]) -> Groups:
    return {level: tuple(map(wrap, changes)) for level, changes in groups.items()}


def merged(*all_groups: Groups) -> Groups:
    return {level: sum((groups[level] for groups in all_groups), ()) for level in security.LEVELS}


NFS = {"server": "nfs.example", "path": "/export"}
LINUX_FEATURES = merged(
    settings_as_features(CONTEXT_SETTINGS, on_context),
    settings_as_features(CONTAINER_SETTINGS, on_container),
    settings_as_features(APP_ARMOR_SETTINGS, on_unannotated_context),
    {
        "restricted": (
            *(add_volume(source) for source in ALLOWED_VOLUMES),
            add_port(on_host=False),
            probe(""),
            add_sysctl(SAFE_SYSCTLS),
            annotate_app_armor("runtime/default"),
        ),
        "baseline": (add_volume("nfs", NFS), unset_seccomp, unmask_proc_in_user_namespace),
        "privileged": (
            add_volume("hostPath", {"path": "/var/log"}),
            add_port(on_host=True),
            probe("169.254.169.254"),
            share_host_namespace,
            add_sysctl(UNSAFE_SYSCTLS),
            annotate_app_armor("unconfined"),
        ),
    },
)
WINDOWS_FEATURES: Groups = {
    "restricted": (
        *(add_volume(source) for source in ALLOWED_VOLUMES),
        add_port(on_host=False),
        probe(""),
        on_context(setting("runAsNonRoot", [True])),
    ),
    "baseline": (add_volume("nfs", NFS), on_context(setting("runAsNonRoot", [False]))),
    "privileged": (
        add_volume("hostPath", {"path": "C:\\logs"}),
        add_port(on_host=True),
        probe("169.254.169.254"),
        run_host_process,
    ),
}
EPHEMERAL_SETTINGS = merged(CONTEXT_SETTINGS, CONTAINER_SETTINGS, APP_ARMOR_SETTINGS)


@strategies.composite
def changes_for(draw: strategies.DrawFn, target: str, groups: Groups) -> list[Any]:
    """Changes that leave a hardened pod at `target` at most: a few that every level allows,
    at least one that only `target` allows, and maybe one allowed at baseline too."""
    chosen = draw(strategies.lists(strategies.sampled_from(groups["restricted"]), max_size=2))
    if target != "restricted":
        chosen.append(draw(strategies.sampled_from(groups[target])))
    if target == "privileged":
        chosen += draw(strategies.lists(strategies.sampled_from(groups["baseline"]), max_size=1))
    ordered: list[Any] = draw(strategies.permutations(chosen))
    return ordered


@strategies.composite
def containers(draw: strategies.DrawFn, prefix: str, count: int, *, linux: bool) -> list[Pod]:
    """Containers with a few restricted settings of their own; Windows ones no Linux fields."""
    made = []
    for index in range(count):
        context: dict[str, Any] = {}
        if linux and draw(strategies.booleans()):
            context.update(copy.deepcopy(HARDENED))
        if draw(strategies.booleans()):
            context["runAsNonRoot"] = True
        if linux and draw(strategies.booleans()):
            context["seccompProfile"] = choose(draw, VALID_SECCOMP)
        made.append({"name": f"{prefix}{index}", "image": IMAGE, "securityContext": context})
    return made


@strategies.composite
def oracle_pods(draw: strategies.DrawFn) -> Pod:
    """A valid pod aimed at one level: hardened for restricted, then changed towards it."""
    target = draw(strategies.sampled_from(security.LEVELS))
    linux = draw(strategies.integers(min_value=0, max_value=5)) > 0
    spec: dict[str, Any] = {
        "securityContext": {},
        "initContainers": draw(containers("init", draw(strategies.integers(0, 1)), linux=linux)),
        "containers": draw(containers("app", draw(strategies.integers(1, 2)), linux=linux)),
    }
    if not linux:
        spec["os"] = {"name": "windows"}
    elif draw(strategies.booleans()):
        spec["os"] = {"name": "linux"}
    pod: Pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "oracle"}, "spec": spec}

    if target == "restricted" or draw(strategies.booleans()):
        harden(pod, linux=linux)
    for feature in draw(changes_for(target, LINUX_FEATURES if linux else WINDOWS_FEATURES)):
        feature(draw, pod)
    return pod


def harden(pod: Pod, *, linux: bool) -> None:
    pod["spec"]["securityContext"]["runAsNonRoot"] = True
    if linux:
        pod["spec"]["securityContext"]["seccompProfile"] = {"type": "RuntimeDefault"}
        for container in containers_of(pod):
            container["securityContext"].update(copy.deepcopy(HARDENED))


@strategies.composite
def ephemeral_containers(draw: strategies.DrawFn) -> dict[str, Any]:
    """A debug container aimed at one level, for a pod that is otherwise restricted."""
    target = draw(strategies.sampled_from(security.LEVELS))
    context = (
        copy.deepcopy(HARDENED) if target == "restricted" or draw(strategies.booleans()) else {}
    )
    for change in draw(changes_for(target, EPHEMERAL_SETTINGS)):
        change(draw, context)
    return {"name": "debug", "image": IMAGE, "securityContext": context}


# Every value of every list the rules hold, and a few just outside them, one pod each.

FORBIDDEN_VOLUMES: dict[str, dict[str, Any]] = {
    "hostPath": {"path": "/var/log"},
    "nfs": NFS,
    "iscsi": {"targetPortal": "10.0.0.1:3260", "iqn": "iqn.2001-04.com.example:disk", "lun": 0},
    "fc": {"targetWWNs": ["500a0982991b8dc5"], "lun": 2},
    "rbd": {"monitors": ["10.0.0.1:6789"], "image": "disk"},
    "cephfs": {"monitors": ["10.0.0.1:6789"]},
    "glusterfs": {"endpoints": "gluster", "path": "volume"},
    "azureDisk": {"diskName": "disk", "diskURI": "https://storage.example/disk.vhd"},
    "azureFile": {"secretName": "azure", "shareName": "share"},
    "gcePersistentDisk": {"pdName": "disk"},
    "awsElasticBlockStore": {"volumeID": "vol-0123"},
    "cinder": {"volumeID": "disk"},
    "flexVolume": {"driver": "example/flex"},
    "gitRepo": {"repository": "https://git.example/repo"},
    "vsphereVolume": {"volumePath": "[store] disk.vmdk"},
    "portworxVolume": {"volumeID": "disk"},
    "quobyte": {"registry": "quobyte:7861", "volume": "disk"},
    "flocker": {"datasetName": "disk"},
    "photonPersistentDisk": {"pdID": "disk"},
    "storageos": {"volumeName": "disk"},
}
PROFILE_TYPES = [
    {"type": "RuntimeDefault"},
    {"type": "Localhost", "localhostProfile": "profiles/audit.json"},
    {"type": "Unconfined"},
]


def hardened_pod() -> Pod:
    """A pod meeting restricted, with one container named `app`."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "listed"},
        "spec": {
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {"name": "app", "image": IMAGE, "securityContext": copy.deepcopy(HARDENED)}
            ],
        },
    }


def variant(what: str, **spec: Any) -> tuple[str, Pod]:
    """The hardened pod with `spec` merged into its spec, one level deep."""
    pod = hardened_pod()
    for key, value in spec.items():
        current = pod["spec"].get(key)
        pod["spec"][key] = {**current, **value} if isinstance(current, dict) else value
    return what, pod


def in_container(what: str, **fields: Any) -> tuple[str, Pod]:
    """The hardened pod, its container given `fields` (securityContext merged, not replaced)."""
    what, pod = variant(what)
    container = pod["spec"]["containers"][0]
    for key, value in fields.items():
        current = container.get(key)
        container[key] = {**current, **value} if isinstance(current, dict) else value
    return what, pod


def listed_cases() -> Iterator[tuple[str, Pod]]:
    for name in LINUX_CAPABILITIES:
        yield in_container(
            f"add {name}", securityContext={"capabilities": {"drop": ["ALL"], "add": [name]}}
        )
    for name in SAFE_SYSCTLS + UNSAFE_SYSCTLS:
        yield variant(f"sysctl {name}", securityContext={"sysctls": [{"name": name, "value": "1"}]})
    for kind in SAFE_SELINUX_TYPES + UNSAFE_SELINUX_TYPES:
        yield variant(f"SELinux type {kind!r}", securityContext={"seLinuxOptions": {"type": kind}})
    yield in_container("SELinux user", securityContext={"seLinuxOptions": {"user": "system_u"}})
    yield in_container("SELinux role", securityContext={"seLinuxOptions": {"role": "system_r"}})
    for profile in PROFILE_TYPES:
        yield variant(f"pod seccomp {profile['type']}", securityContext={"seccompProfile": profile})
        yield in_container(
            f"seccomp {profile['type']}", securityContext={"seccompProfile": profile}
        )
        yield variant(
            f"pod AppArmor {profile['type']}", securityContext={"appArmorProfile": profile}
        )
        yield in_container(
            f"AppArmor {profile['type']}", securityContext={"appArmorProfile": profile}
        )
    for value in ("runtime/default", "localhost/profile", "unconfined"):
        what, pod = variant(f"AppArmor annotation {value}")
        pod["metadata"]["annotations"] = {security.APPARMOR_ANNOTATION + "app": value}
        yield what, pod
    for source, body in {**ALLOWED_VOLUMES, **FORBIDDEN_VOLUMES}.items():
        yield variant(f"{source} volume", volumes=[{"name": "data", source: body}])
    for probe_kind in security.PROBES:
        for action in ("httpGet", "tcpSocket"):
            yield in_container(
                f"{probe_kind} {action} host",
                **{probe_kind: {action: {"port": 80, "host": "10.0.0.1"}}},
            )
    for hook in security.LIFECYCLE_HANDLERS:
        for action in ("httpGet", "tcpSocket"):
            yield in_container(
                f"{hook} {action} host",
                lifecycle={hook: {action: {"port": 80, "host": "metadata"}}},
            )
    for key in ("hostNetwork", "hostPID", "hostIPC"):
        yield variant(key, **{key: True})
    yield in_container("hostPort", ports=[{"containerPort": 80, "hostPort": 8080}])
    yield in_container(
        "privileged", securityContext={"privileged": True, "allowPrivilegeEscalation": None}
    )
    what, pod = variant("procMount Unmasked in a user namespace", hostUsers=False)
    pod["spec"]["containers"][0]["securityContext"]["procMount"] = "Unmasked"
    yield what, pod
    yield variant(
        "root in a user namespace",
        hostUsers=False,
        securityContext={"runAsUser": 0, "runAsNonRoot": False},
    )
    yield variant("root", securityContext={"runAsUser": 0})
    yield in_container("escalation", securityContext={"allowPrivilegeEscalation": True})
    yield in_container("no drop", securityContext={"capabilities": None})
    windows: Pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "listed"},
        "spec": {
            "os": {"name": "windows"},
            "securityContext": {"runAsNonRoot": True},
            "containers": [{"name": "app", "image": IMAGE}],
        },
    }
    yield "Windows pod", windows
    host_process = copy.deepcopy(windows)
    host_process["spec"]["hostNetwork"] = True
    host_process["spec"]["securityContext"]["windowsOptions"] = {"hostProcess": True}
    yield "Windows HostProcess pod", host_process


async def test_every_generated_pod_gets_the_same_verdict_from_atoll_and_the_api_server(
    api: kube_client.Client, level_namespaces: dict[str, str]
) -> None:
    loop = asyncio.get_running_loop()
    seen: list[tuple[bool, ...]] = []

    async def verdicts(pod: Pod) -> dict[str, str | Pod]:
        paths = {level: resources.PODS.path(name) for level, name in level_namespaces.items()}
        answers = await asyncio.gather(
            *(dry_run(api, paths[level], pod) for level in security.LEVELS)
        )
        return dict(zip(security.LEVELS, answers, strict=True))

    @ORACLE
    @hypothesis.given(pod=oracle_pods())
    def atoll_agrees(pod: Pod) -> None:
        answers = run(loop, verdicts(pod))
        tenant_pod = answers["privileged"]
        assert isinstance(tenant_pod, dict), f"privileged refused: {tenant_pod}"
        refused = []
        for level in ("baseline", "restricted"):
            # The syncer reads tenant pods defaulted; the pod as written must fare the same.
            verdict = answers[level]
            is_refused = agree(level, tenant_pod, verdict)
            assert bool(security.violations(level, pod)) == is_refused, level
            refused.append(is_refused)
        seen.append(tuple(refused))

    await asyncio.to_thread(atoll_agrees)

    # Pods of every kind of verdict were judged, and never one refused only at baseline.
    assert set(seen) == {(False, False), (False, True), (True, True)}, set(seen)


async def test_generated_ephemeral_containers_get_the_same_verdict_from_atoll_and_the_server(
    api: kube_client.Client, level_namespaces: dict[str, str]
) -> None:
    loop = asyncio.get_running_loop()
    stored = {}
    for level in ("baseline", "restricted"):
        pod: Pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "target"},
            "spec": {
                # Never scheduled: the pod only has to exist for its subresource.
                "schedulingGates": [{"name": "atoll.dev/oracle"}],
                "securityContext": {
                    "runAsNonRoot": True,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [{"name": "app", "image": IMAGE, "securityContext": dict(HARDENED)}],
            },
        }
        stored[level] = await api.create(resources.PODS.path(level_namespaces[level]), pod)
    seen: list[tuple[bool, ...]] = []

    @EPHEMERAL
    @hypothesis.given(debug=ephemeral_containers())
    def atoll_agrees(debug: dict[str, Any]) -> None:
        refused = []
        for level, target in stored.items():
            tenant_pod = copy.deepcopy(target)
            tenant_pod["spec"]["ephemeralContainers"] = [debug]
            path = resources.PODS.path(level_namespaces[level], "target", "ephemeralcontainers")
            verdict = run(loop, dry_run(api, path, tenant_pod, method="PUT"))
            refused.append(agree(level, tenant_pod, verdict))
        seen.append(tuple(refused))

    await asyncio.to_thread(atoll_agrees)

    assert set(seen) == {(False, False), (False, True), (True, True)}, set(seen)


async def test_every_listed_value_gets_the_same_verdict_from_atoll_and_the_api_server(
    api: kube_client.Client, level_namespaces: dict[str, str]
) -> None:
    cases = dict(listed_cases())
    room = asyncio.Semaphore(16)

    async def judged(pod: Pod) -> list[str | Pod]:
        async with room:
            return list(
                await asyncio.gather(
                    *(
                        dry_run(api, resources.PODS.path(level_namespaces[level]), pod)
                        for level in ("baseline", "restricted")
                    )
                )
            )

    verdicts = await asyncio.gather(*(judged(pod) for pod in cases.values()))

    problems = {
        what: problem
        for (what, pod), answers in zip(cases.items(), verdicts, strict=True)
        for level, verdict in zip(("baseline", "restricted"), answers, strict=True)
        if (problem := disagreement(level, pod, verdict)) is not None
    }
    assert problems == {}
