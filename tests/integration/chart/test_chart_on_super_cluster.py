"""The Helm chart against the real local super-cluster: lint, render, dry-run, install.

The super-cluster already runs atoll's own operator, which installed the CRDs, the `default`
ClusterVersion and the `atoll` peering object. The chart coexists with it:

- its CRDs are applied by Helm 4 server-side; being byte-identical to the ones the operator
  applied (a unit test keeps them so), they meet no field conflict and change nothing, so
  installs here run without `--skip-crds` and prove that;
- the `default` ClusterVersion and `atoll` peering exist and belong to no release, so the
  chart leaves them alone (and uninstalling it must not remove them).

The chart's pods never run a container (the nodes are simulated) but are reported Running
and Ready, so the workloads are checked up to Ready without the image existing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import pathlib
import uuid
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.operator import main as operator_main
from support import cluster as support_cluster

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

ROOT = pathlib.Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "atoll"
VALUES = pathlib.Path(__file__).parent / "values"
COMMAND_TIMEOUT = 60.0
DEADLINE = 45.0
INSTANCE = "app.kubernetes.io/instance"
SERVICE_MONITOR_API = "monitoring.coreos.com/v1/ServiceMonitor"
# The field manager of the dry runs; --force-conflicts because the CRDs, the ClusterVersion
# and the peering object exist here already, owned by atoll's own operator: a dry run checks
# that the API server accepts every object, not who owns which field.
DRY_RUN_MANAGER = "atoll-chart-dry-run"

KubeObject = dict[str, Any]

RBAC = "rbac.authorization.k8s.io"
PEERINGS = resources.Resource(
    "kopf.dev", "v1", "clusterkopfpeerings", namespaced=False, kind="ClusterKopfPeering"
)
# Every kind the chart renders, where to list it (across namespaces) by the release label.
RELEASE_KINDS = {
    resource.kind: resource
    for resource in (
        resources.DEPLOYMENTS,
        resources.STATEFULSETS,
        resources.SERVICES,
        resources.SERVICEACCOUNTS,
        resources.PODS,
        resources.Resource(RBAC, "v1", "clusterroles", namespaced=False, kind="ClusterRole"),
        resources.Resource(
            RBAC, "v1", "clusterrolebindings", namespaced=False, kind="ClusterRoleBinding"
        ),
        resources.Resource(RBAC, "v1", "roles", namespaced=True, kind="Role"),
        resources.Resource(RBAC, "v1", "rolebindings", namespaced=True, kind="RoleBinding"),
        atoll_api.CLUSTERVERSIONS,
        PEERINGS,
    )
}


@dataclasses.dataclass(frozen=True)
class Tools:
    """helm and kubectl on the super-cluster, with Helm's own files in a scratch folder."""

    helm: pathlib.Path
    kubectl: pathlib.Path
    kubeconfig: pathlib.Path
    scratch: pathlib.Path

    async def run_helm(self, *args: str, check: bool = True) -> tuple[int, str, str]:
        environment = {
            **os.environ,
            **{
                f"HELM_{kind}_HOME": str(self.scratch / kind.lower())
                for kind in ("CACHE", "CONFIG", "DATA")
            },
        }
        return await _run(
            [str(self.helm), *args, "--kubeconfig", str(self.kubeconfig)],
            environment=environment,
            check=check,
        )

    async def apply_dry_run(self, manifests: str) -> str:
        _code, stdout, _stderr = await _run(
            [
                str(self.kubectl),
                "--kubeconfig",
                str(self.kubeconfig),
                "apply",
                "--server-side",
                "--dry-run=server",
                "--force-conflicts",
                f"--field-manager={DRY_RUN_MANAGER}",
                "-f",
                "-",
            ],
            stdin=manifests,
        )
        return stdout


async def _run(
    argv: list[str],
    *,
    stdin: str | None = None,
    environment: dict[str, str] | None = None,
    check: bool = True,
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    try:
        stdout, stderr = await asyncio.wait_for(
            process.communicate(stdin.encode() if stdin is not None else None),
            timeout=COMMAND_TIMEOUT,
        )
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    code = process.returncode if process.returncode is not None else -1
    if check:
        assert code == 0, f"{pathlib.Path(argv[0]).name} {' '.join(argv[1:3])}: {stderr.decode()}"
    return code, stdout.decode(), stderr.decode()


@pytest.fixture
def tools(
    helm: pathlib.Path,
    kubectl: pathlib.Path,
    super_cluster: support_cluster.SuperCluster,
    tmp_path: pathlib.Path,
) -> Tools:
    return Tools(helm=helm, kubectl=kubectl, kubeconfig=super_cluster.kubeconfig, scratch=tmp_path)


def documents(text: str) -> list[KubeObject]:
    return [document for document in yaml.safe_load_all(text) if document]


def named(objects: list[KubeObject], kind: str, suffix: str = "") -> KubeObject:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"].endswith(suffix)]
    assert len(matches) == 1, f"expected one {kind} *{suffix}, got {len(matches)}"
    return matches[0]


def args_of(workload: KubeObject) -> list[str]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    args: list[str] = container["args"]
    return args


def check_default(objects: list[KubeObject]) -> None:
    assert "--embedded-syncer" in args_of(named(objects, "Deployment", "-operator"))
    assert not [obj for obj in objects if obj["kind"] in ("StatefulSet", "ServiceMonitor")]


def check_separate_syncer(objects: list[KubeObject]) -> None:
    assert "--no-embedded-syncer" in args_of(named(objects, "Deployment", "-operator"))
    syncer = named(objects, "StatefulSet", "-syncer")
    assert syncer["spec"]["replicas"] == 3
    assert "--shards=3" in args_of(syncer)


def check_service_monitor(objects: list[KubeObject]) -> None:
    monitor = named(objects, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "15s"}
    ]


def check_kubernetes_provisioner(objects: list[KubeObject]) -> None:
    args = args_of(named(objects, "Deployment", "-operator"))
    assert "--default-provisioner=kubernetes" in args
    assert "--pool-label=apps.kubeedge.io/belonging-to" in args
    assert "--verbose" in args
    version = named(objects, "ClusterVersion", "default")
    assert version["spec"]["etcd"]["image"] == "mirror.example/etcd:3.6.16-0"
    assert version["spec"]["apiServer"]["image"] == "mirror.example/kube-apiserver:v1.37.2"


RENDERINGS: dict[str, Callable[[list[KubeObject]], None]] = {
    "default.yaml": check_default,
    "separate-syncer.yaml": check_separate_syncer,
    "service-monitor.yaml": check_service_monitor,
    "kubernetes-provisioner.yaml": check_kubernetes_provisioner,
}


async def test_chart_passes_helm_lint_with_every_values_file(tools: Tools) -> None:
    for values_file in sorted(RENDERINGS):
        await tools.run_helm("lint", "--strict", str(CHART), "-f", str(VALUES / values_file))


@pytest.mark.parametrize("values_file", sorted(RENDERINGS))
async def test_rendering_is_accepted_by_the_api_server(
    tools: Tools, release_namespace: str, values_file: str
) -> None:
    template = ["template", "dry", str(CHART), "-n", release_namespace]
    template += ["-f", str(VALUES / values_file)]
    # Rendered as for a cluster that serves ServiceMonitors; this one does not.
    _code, manifests, _stderr = await tools.run_helm(
        *template, "--api-versions", SERVICE_MONITOR_API
    )
    objects = documents(manifests)
    RENDERINGS[values_file](objects)

    _code, without_api, _stderr = await tools.run_helm(*template)
    assert not [obj for obj in documents(without_api) if obj["kind"] == "ServiceMonitor"]
    applied = await tools.apply_dry_run(without_api)
    assert applied.count("serverside-applied (server dry run)") == len(documents(without_api))


async def _list_released(api: kube_client.Client, release: str) -> list[str]:
    """`Kind namespace/name` of every object carrying the release's label."""
    found = []
    for kind, resource in RELEASE_KINDS.items():
        listing = await api.get(resource.path(), params={"labelSelector": f"{INSTANCE}={release}"})
        for item in listing["items"]:
            metadata = item["metadata"]
            found.append(f"{kind} {metadata.get('namespace', '')}/{metadata['name']}")
    return found


async def _workload_ready(
    api: kube_client.Client, resource: resources.Resource, namespace: str, name: str
) -> KubeObject | None:
    workload = await api.get(resource.path(namespace, name))
    status = workload.get("status") or {}
    wanted = workload["spec"]["replicas"]
    current = (
        status.get("observedGeneration") == workload["metadata"]["generation"]
        and status.get("updatedReplicas", 0) == wanted
        and status.get("readyReplicas", 0) == wanted
        and status.get("replicas", 0) == wanted
    )
    return workload if current else None


async def _left_alone(api: kube_client.Client, resource: resources.Resource, name: str) -> None:
    """A singleton made by atoll's own operator: still there, not taken over by the release."""
    obj = await api.get(resource.path(name=name))
    annotations = obj["metadata"].get("annotations") or {}
    assert "meta.helm.sh/release-name" not in annotations, f"{resource.kind} {name} taken over"


async def test_install_upgrade_uninstall_leaves_nothing_behind(
    tools: Tools, api: kube_client.Client, release_namespace: str
) -> None:
    release = f"chart-{uuid.uuid4().hex[:6]}"
    scope = ["-n", release_namespace]

    def ready(resource: resources.Resource, component: str) -> Callable[[], Any]:
        name = f"{release}-atoll-{component}"
        return lambda: _workload_ready(api, resource, release_namespace, name)

    await tools.run_helm(
        *["install", release, str(CHART), *scope],
        *["--set", "syncer.mode=separate", "--set", "syncer.shards=2"],
    )
    await wait.until(
        ready(resources.DEPLOYMENTS, "operator"), timeout=DEADLINE, what="the operator ready"
    )
    await wait.until(
        ready(resources.STATEFULSETS, "syncer"), timeout=DEADLINE, what="two syncer shards ready"
    )
    await _left_alone(api, atoll_api.CLUSTERVERSIONS, atoll_api.DEFAULT_CLUSTER_VERSION)
    await _left_alone(api, PEERINGS, operator_main.PEERING)

    await tools.run_helm(
        *["upgrade", release, str(CHART), *scope, "--reuse-values"],
        *["--set", "syncer.shards=3", "--set", "operator.renewBeforeDays=10"],
    )
    syncer = await wait.until(
        ready(resources.STATEFULSETS, "syncer"), timeout=DEADLINE, what="three syncer shards ready"
    )
    assert syncer["spec"]["replicas"] == 3
    assert "--shards=3" in args_of(syncer)
    operator = await wait.until(
        ready(resources.DEPLOYMENTS, "operator"), timeout=DEADLINE, what="the new operator ready"
    )
    assert "--renew-before-days=10" in args_of(operator)

    _code, manifest, _stderr = await tools.run_helm("get", "manifest", release, *scope)
    rendered_kinds = {obj["kind"] for obj in documents(manifest)}
    assert rendered_kinds <= set(RELEASE_KINDS), f"unchecked kinds: {rendered_kinds}"
    assert await _list_released(api, release)

    await tools.run_helm("uninstall", release, *scope)

    async def nothing_left() -> bool:
        return not await _list_released(api, release)

    try:
        await wait.until(nothing_left, timeout=DEADLINE, what=f"release {release} to be gone")
    except TimeoutError as error:
        raise AssertionError(f"left behind: {await _list_released(api, release)}") from error
    await _left_alone(api, atoll_api.CLUSTERVERSIONS, atoll_api.DEFAULT_CLUSTER_VERSION)
    await _left_alone(api, PEERINGS, operator_main.PEERING)
    for crd in ("virtualclusters.atoll.dev", "clusterversions.atoll.dev"):
        try:
            await api.get(resources.CRDS.path(name=crd))
        except errors.NotFound:
            pytest.fail(f"uninstalling the chart removed the CRD {crd}")
