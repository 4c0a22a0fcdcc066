"""Fixtures for CLI tests: `atoll` run as a child process, and one VirtualCluster it created.

The command runs exactly as a user runs it (its own process, real exit codes, stdout and
stderr apart) against the session's super-cluster. One VirtualCluster, created by
`atoll create --wait`, is shared by the tests of a module: they run in file order, and the
last one deletes it.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import pytest_asyncio

from atoll.core import api as atoll_api
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from support import cluster as support_cluster
from support import vcs

Run = Callable[..., Awaitable[subprocess.CompletedProcess[str]]]
VC_NAME = "demo"


@pytest.fixture(scope="module")
def atoll(
    super_cluster: support_cluster.SuperCluster, tmp_path_factory: pytest.TempPathFactory
) -> Run:
    """`await atoll("describe", "demo", "-n", ns)`: the super-cluster's --kubeconfig is added.

    HOME and the state folder are private to the module, so no user file is ever touched.
    """
    home = tmp_path_factory.mktemp("cli-home")
    environment = {key: value for key, value in os.environ.items() if key != "KUBECONFIG"}
    environment |= {"HOME": str(home), "ATOLL_STATE_DIR": str(home / "state")}

    async def run(
        *arguments: str,
        super_kubeconfig: bool = True,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> subprocess.CompletedProcess[str]:
        command = [*arguments, "--kubeconfig", str(super_cluster.kubeconfig)]
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "atoll.cli",
            *(command if super_kubeconfig else arguments),
            env=environment | (env or {}),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(process.communicate(), timeout)
        except TimeoutError:
            process.kill()
            await process.wait()
            raise
        assert process.returncode is not None
        return subprocess.CompletedProcess(
            list(arguments), process.returncode, out.decode(), err.decode()
        )

    return run


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def cli_namespace(api: kube_client.Client) -> str:
    """A fresh super-cluster namespace for the module's VirtualCluster."""
    name = f"cli-{uuid.uuid4().hex[:8]}"
    await api.create(resources.NAMESPACES.path(), {"metadata": {"name": name}})
    return name


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def created(
    api: kube_client.Client, atoll: Run, cli_namespace: str
) -> AsyncIterator[subprocess.CompletedProcess[str]]:
    """`atoll create demo --pools edge-a,cloud --wait`, as it ran; removed afterwards if left."""
    result = await atoll(
        "create",
        VC_NAME,
        "-n",
        cli_namespace,
        "--pools",
        "edge-a,cloud",
        "--default-pool",
        "edge-a",
        "--wait",
        "--timeout",
        "90",
    )
    yield result
    path = atoll_api.VIRTUALCLUSTERS.path(cli_namespace, VC_NAME)
    try:
        await api.delete(path)
    except errors.NotFound:
        return
    await vcs.wait_gone(api, path)
