"""The chart rendered by `helm template` (no cluster): its schema and what it passes to atoll.

values.schema.json must accept the chart's own values and refuse values the operator cannot
run with; every flag the chart writes into a container's arguments must be an option of the
`atoll` command it runs (so a value never reaches a flag that does not exist); and every
object the operator's `--install-crds` would create besides CRDs is a template of the chart.
"""

from __future__ import annotations

import pathlib
import subprocess
from typing import Any

import click
import pytest
import yaml

from atoll.cli import main as cli_main
from atoll.cli import processes
from atoll.core import api as atoll_api
from atoll.operator import main as operator_main

ROOT = pathlib.Path(__file__).resolve().parents[3]
CHART = ROOT / "charts" / "atoll"
TIMEOUT = 60.0

KubeObject = dict[str, Any]


def helm_template(helm: pathlib.Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(helm), "template", "atoll", str(CHART), "--namespace", "atoll-system", *options],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def rendered(helm: pathlib.Path, *options: str) -> list[KubeObject]:
    result = helm_template(helm, *options)
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


def find(objects: list[KubeObject], kind: str, name_suffix: str = "") -> KubeObject:
    matches = [
        obj
        for obj in objects
        if obj["kind"] == kind and obj["metadata"]["name"].endswith(name_suffix)
    ]
    assert len(matches) == 1, f"expected one {kind} *{name_suffix}, got {len(matches)}"
    return matches[0]


def container_args(workload: KubeObject) -> list[str]:
    (container,) = workload["spec"]["template"]["spec"]["containers"]
    args: list[str] = container["args"]
    return args


def options_of(command: click.Command) -> set[str]:
    return {
        option
        for parameter in command.params
        if isinstance(parameter, click.Option)
        for option in (*parameter.opts, *parameter.secondary_opts)
    }


def check_flags(args: list[str], subcommand: click.Command) -> None:
    """`args` is `atoll [global options] <subcommand> [options]`, each option a real one."""
    assert args[0] == "atoll"
    split = args.index(subcommand.name or "")
    for flag in args[1:split]:
        assert flag.split("=", 1)[0] in options_of(cli_main.cli), f"atoll has no {flag}"
    for flag in args[split + 1 :]:
        assert flag.split("=", 1)[0] in options_of(subcommand), (
            f"atoll {subcommand.name} has no {flag}"
        )


def test_default_values_render_and_pass_the_schema(helm: pathlib.Path) -> None:
    objects = rendered(helm)

    operator = find(objects, "Deployment", "-operator")
    assert operator["spec"]["replicas"] == 1
    assert "--embedded-syncer" in container_args(operator)
    assert not [obj for obj in objects if obj["kind"] == "StatefulSet"]


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        pytest.param("operator.replicas=-1", "replicas", id="negative-operator-replicas"),
        pytest.param("syncer.shards=3", "shards", id="shards-without-separate-syncer"),
        pytest.param("syncer.mode=sidecar", "mode", id="unknown-syncer-mode"),
        pytest.param("syncer.shards=0", "shards", id="no-shards"),
        pytest.param("image.pullPolicy=Sometimes", "pullPolicy", id="unknown-pull-policy"),
        pytest.param("logging.level=trace", "level", id="unknown-log-level"),
        pytest.param("operator.defaultProvisioner=vm", "defaultProvisioner", id="provisioner"),
        pytest.param("clusterVersion.kubernetesVersion=1.37", "kubernetesVersion", id="version"),
        pytest.param("operator.probesPort=70000", "probesPort", id="port-out-of-range"),
        pytest.param("operator.replicaCount=1", "replicaCount", id="unknown-value"),
        pytest.param("poolLabel=not a label", "poolLabel", id="pool-label"),
    ],
)
def test_schema_refuses_values_the_operator_cannot_run_with(
    helm: pathlib.Path, setting: str, complaint: str
) -> None:
    result = helm_template(helm, "--set", setting)

    assert result.returncode != 0, f"--set {setting} was accepted"
    assert "schema" in result.stderr
    assert complaint in result.stderr


def test_standby_operators_need_a_separate_syncer(helm: pathlib.Path) -> None:
    refused = helm_template(helm, "--set", "operator.replicas=2")
    objects = rendered(helm, "--set", "operator.replicas=2", "--set", "syncer.mode=separate")

    assert refused.returncode != 0
    assert "syncer.mode=separate" in refused.stderr
    assert find(objects, "Deployment", "-operator")["spec"]["replicas"] == 2


def test_probes_and_liveness_ports_must_differ(helm: pathlib.Path) -> None:
    result = helm_template(helm, "--set", "operator.livenessPort=8081")

    assert result.returncode != 0
    assert "must differ" in result.stderr


def test_every_flag_the_chart_passes_is_an_option_of_atoll(helm: pathlib.Path) -> None:
    for mode in ("embedded", "separate"):
        objects = rendered(helm, "--set", f"syncer.mode={mode}", "--set", "logging.level=debug")

        check_flags(container_args(find(objects, "Deployment", "-operator")), processes.operator)
        if mode == "separate":
            check_flags(container_args(find(objects, "StatefulSet", "-syncer")), processes.syncer)


def test_separate_syncer_runs_one_pod_per_shard_and_the_operator_without_its_own(
    helm: pathlib.Path,
) -> None:
    objects = rendered(helm, "--set", "syncer.mode=separate", "--set", "syncer.shards=3")

    syncer = find(objects, "StatefulSet", "-syncer")
    args = container_args(syncer)
    assert syncer["spec"]["replicas"] == 3
    assert "--shards=3" in args
    # The shard is the pod's ordinal, expanded by the kubelet from the pod-index label.
    assert "--shard=$(ATOLL_SYNCER_SHARD)" in args
    (container,) = syncer["spec"]["template"]["spec"]["containers"]
    (shard_env,) = container["env"]
    assert shard_env["name"] == "ATOLL_SYNCER_SHARD"
    assert shard_env["valueFrom"]["fieldRef"]["fieldPath"] == (
        "metadata.labels['apps.kubernetes.io/pod-index']"
    )
    assert "--no-embedded-syncer" in container_args(find(objects, "Deployment", "-operator"))
    # The syncer runs under an account of its own, bound to the syncer's role only.
    binding = find(objects, "ClusterRoleBinding", "-syncer")
    assert (
        binding["subjects"][0]["name"] == syncer["spec"]["template"]["spec"]["serviceAccountName"]
    )


def test_objects_installed_with_the_crds_are_chart_templates(helm: pathlib.Path) -> None:
    objects = rendered(helm)
    rendered_names = {(obj["kind"], obj["metadata"]["name"]) for obj in objects}

    shipped = {
        (str(manifest["kind"]), str(manifest["metadata"]["name"]))  # type: ignore[index]
        for manifest in atoll_api.manifests()
        if manifest["kind"] != "CustomResourceDefinition"
    }

    assert ("ClusterKopfPeering", operator_main.PEERING) in shipped
    assert ("ClusterVersion", atoll_api.DEFAULT_CLUSTER_VERSION) in shipped
    assert shipped <= rendered_names


def test_pods_run_restricted(helm: pathlib.Path) -> None:
    objects = rendered(helm, "--set", "syncer.mode=separate")

    for workload in (find(objects, "Deployment"), find(objects, "StatefulSet")):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        (container,) = pod["containers"]
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] is True
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        # The only writable folder, a memory-backed emptyDir.
        assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # noqa: S108


def test_pods_authenticate_as_their_service_account(helm: pathlib.Path) -> None:
    objects = rendered(helm, "--set", "syncer.mode=separate", "--set", "syncer.shards=2")
    for workload in (
        find(objects, "Deployment", "-operator"),
        find(objects, "StatefulSet", "-syncer"),
    ):
        pod = workload["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        # The image's entry point is atoll itself; with no kubeconfig it uses the pod's
        # service account (token file read for each request, so rotation is followed).
        assert "command" not in container
        assert not [arg for arg in container["args"] if arg.startswith("--kubeconfig")]
        assert pod.get("automountServiceAccountToken", True) is True
        assert pod["serviceAccountName"]
