"""The `atoll` command's contract: usage errors exit 2, failures exit 1 with a fix, no traceback.

Commands run in-process with click's CliRunner. Nothing here reaches a working API server:
failures to reach one are real (a closed port), never mocked.
"""

from __future__ import annotations

import json
import pathlib
import socket

import click
import pytest
from click import testing

from atoll.cli import main
from atoll.core import pki
from atoll.core.kube import config

VC_COMMANDS = ["describe", "pause", "resume", "connect", "get", "kubeconfig", "delete"]


def invoke(*arguments: str, env: dict[str, str] | None = None) -> testing.Result:
    return testing.CliRunner().invoke(main.cli, list(arguments), env=env, prog_name="atoll")


@pytest.fixture(scope="module")
def unreachable_kubeconfig(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A valid kubeconfig for an API server that is not there (a port nobody listens on)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    authority = pki.new_ca("nowhere-ca")
    path = tmp_path_factory.mktemp("kubeconfig") / "super.kubeconfig"
    access = config.ClusterAccess(server=f"https://127.0.0.1:{port}", ca_pem=authority.cert_pem)
    config.write_kubeconfig(path, access, name="nowhere")
    return path


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        *[([command], "Missing argument 'NAME'") for command in VC_COMMANDS],
        (["describe", "a", "b"], "unexpected extra argument"),
        (["describe", "a", "-o", "xml"], "'xml' is not one of"),
        (["describe", "a", "--events", "-1"], "-1 is not in the range"),
        (["list", "-o", "csv"], "'csv' is not one of"),
        (["version", "-o", "xml"], "'xml' is not one of"),
        (["pause", "a", "--timeout", "soon"], "'soon' is not a valid float"),
        (["connect", "a", "--print-env", "--kubeconfig-out", "x"], "exclude each other"),
        (["completion"], "Missing argument"),
        (["completion", "powershell"], "'powershell' is not one of"),
        (["unpause", "a"], "No such command 'unpause'"),
    ],
)
def test_usage_errors_exit_2_and_say_what_is_wrong(arguments: list[str], complaint: str) -> None:
    result = invoke(*arguments)

    assert result.exit_code == 2
    assert complaint in result.stderr


def test_help_documents_the_exit_codes() -> None:
    result = invoke("--help")

    assert result.exit_code == 0
    assert "0  success" in result.stdout
    assert "1  failure: the message on stderr says what to fix" in result.stdout
    assert "2  usage error" in result.stdout
    for command in ["completion", "connect", "describe", "pause", "resume"]:
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize("command", ["list", "describe x", "pause x", "connect x", "get x"])
def test_an_unreachable_super_cluster_names_the_kubeconfig_and_atoll_up(
    command: str, unreachable_kubeconfig: pathlib.Path
) -> None:
    result = invoke(*command.split(), "--kubeconfig", str(unreachable_kubeconfig))

    assert result.exit_code == 1
    assert result.stdout == ""
    assert f"kubeconfig {unreachable_kubeconfig}" in result.stderr
    assert "does not answer" in result.stderr
    assert "`atoll up`" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_tenant_context_in_use_is_named_as_the_cause(
    tmp_path: pathlib.Path, unreachable_kubeconfig: pathlib.Path
) -> None:
    tenant_kubeconfig = tmp_path / "config"
    access = config.load_kubeconfig(unreachable_kubeconfig)
    config.write_kubeconfig(tenant_kubeconfig, access, name="atoll_team-a_shop")

    result = invoke("list", env={"KUBECONFIG": str(tenant_kubeconfig)})

    assert result.exit_code == 1
    assert f"context atoll_team-a_shop of {tenant_kubeconfig} is a tenant's" in result.stderr
    assert "pass --context with the super-cluster's context" in result.stderr


def test_a_missing_kubeconfig_says_how_to_get_a_super_cluster(tmp_path: pathlib.Path) -> None:
    missing = tmp_path / "nothing-here"

    result = invoke("describe", "shop", env={"KUBECONFIG": str(missing)})

    assert result.exit_code == 1
    assert f"cannot read kubeconfig {missing}" in result.stderr
    assert "`atoll up`" in result.stderr
    assert "--kubeconfig" in result.stderr


def test_an_unknown_context_lists_the_known_ones(unreachable_kubeconfig: pathlib.Path) -> None:
    result = invoke("list", "--kubeconfig", str(unreachable_kubeconfig), "--context", "elsewhere")

    assert result.exit_code == 1
    assert "context 'elsewhere' not in" in result.stderr
    assert "contexts: nowhere" in result.stderr


@pytest.mark.parametrize("how", ["default", "--kubeconfig-out"])
def test_connect_refuses_to_merge_into_the_local_super_cluster_kubeconfig(
    tmp_path: pathlib.Path, unreachable_kubeconfig: pathlib.Path, how: str
) -> None:
    state = tmp_path / "state"
    super_kubeconfig = state / "super.kubeconfig"
    state.mkdir()
    super_kubeconfig.write_bytes(unreachable_kubeconfig.read_bytes())
    where = ["--kubeconfig-out", str(super_kubeconfig)] if how != "default" else []

    result = invoke(
        "connect",
        "shop",
        *where,
        env={"ATOLL_STATE_DIR": str(state), "KUBECONFIG": str(super_kubeconfig)},
    )

    assert result.exit_code == 1
    assert "`atoll up` rewrites" in result.stderr
    assert "--print-env" in result.stderr
    assert "does not answer" not in result.stderr, "refused before any API call"
    assert super_kubeconfig.read_bytes() == unreachable_kubeconfig.read_bytes()


def test_version_is_data_too() -> None:
    result = invoke("version", "-o", "json")

    assert result.exit_code == 0
    assert json.loads(result.stdout)["kubernetes"] == "v1.37.2"


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete -o nosort -F"), ("zsh", "#compdef atoll"), ("fish", "complete --no-files")],
)
def test_completion_prints_the_shell_script(shell: str, marker: str) -> None:
    result = invoke("completion", shell)

    assert result.exit_code == 0
    assert marker in result.stdout
    assert "_ATOLL_COMPLETE" in result.stdout


def test_completion_answers_commands_and_stays_quiet_without_a_cluster(
    unreachable_kubeconfig: pathlib.Path,
) -> None:
    commands = invoke(
        env={"_ATOLL_COMPLETE": "bash_complete", "COMP_WORDS": "atoll pa", "COMP_CWORD": "1"}
    )
    names = invoke(
        env={
            "_ATOLL_COMPLETE": "bash_complete",
            "COMP_WORDS": f"atoll describe --kubeconfig {unreachable_kubeconfig} ",
            "COMP_CWORD": "4",
        }
    )

    assert commands.exit_code == 0
    assert commands.stdout.split() == ["plain,pause"]
    assert names.exit_code == 0
    assert names.stdout.split() == []


def failing_group() -> click.Group:
    """The real group class with one command that breaks in an unforeseen way."""
    group = main.AtollGroup("atoll", params=[click.Option(["-v", "--verbose"], is_flag=True)])

    @group.command()
    def explode() -> None:
        raise RuntimeError("kaput")

    return group


def test_an_unforeseen_error_is_one_line_on_stderr_and_exit_1() -> None:
    result = testing.CliRunner().invoke(failing_group(), ["explode"])

    assert result.exit_code == 1
    assert "error: RuntimeError: kaput" in result.stderr
    assert "atoll -v explode" in result.stderr
    assert "Traceback" not in result.stderr


def test_verbose_lets_the_traceback_through() -> None:
    result = testing.CliRunner().invoke(failing_group(), ["-v", "explode"])

    assert isinstance(result.exception, RuntimeError)
