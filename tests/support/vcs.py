"""VirtualClusters on the real super-cluster and their tenants, for tests."""

from __future__ import annotations

import base64
import pathlib
from typing import Any

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources

KubeObject = kube_client.KubeObject


async def create_vc(
    api: kube_client.Client, namespace: str, name: str, spec: dict[str, Any] | None = None
) -> KubeObject:
    body = {
        "apiVersion": atoll_api.API_VERSION,
        "kind": "VirtualCluster",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec or {},
    }
    return await api.create(atoll_api.VIRTUALCLUSTERS.path(namespace), body)


async def read_vc(api: kube_client.Client, namespace: str, name: str) -> KubeObject:
    return await api.get(atoll_api.VIRTUALCLUSTERS.path(namespace, name))


async def wait_phase(
    api: kube_client.Client, namespace: str, name: str, phase: str, timeout: float = 120
) -> KubeObject:
    async def reached() -> KubeObject | None:
        vc = await read_vc(api, namespace, name)
        return vc if (vc.get("status") or {}).get("phase") == phase else None

    return await wait.until(reached, timeout=timeout, what=f"{namespace}/{name} {phase}")


async def wait_gone(api: kube_client.Client, path: str, timeout: float = 120) -> bool:
    async def gone() -> bool:
        try:
            await api.get(path)
        except errors.NotFound:
            return True
        return False

    return await wait.until(gone, timeout=timeout, what=f"{path} to be gone")


async def wait_present(api: kube_client.Client, path: str, timeout: float = 60) -> KubeObject:
    """The object at `path`, once it exists."""

    async def found() -> KubeObject | None:
        try:
            return await api.get(path)
        except errors.NotFound:
            return None

    return await wait.until(found, timeout=timeout, what=f"{path} to exist")


def condition(vc: KubeObject, type_: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [
        item for item in vc["status"]["conditions"] if item["type"] == type_
    ]
    assert found, f"no {type_} condition in {vc['status']}"
    return found[0]


async def tenant_access(api: kube_client.Client, namespace: str, name: str) -> config.ClusterAccess:
    """The tenant's admin access, exactly as a user gets it from the kubeconfig Secret."""
    secret = await api.get(resources.SECRETS.path(namespace, f"{name}-kubeconfig"))
    return config.parse_kubeconfig(base64.b64decode(secret["data"]["value"]).decode())


def tenant_processes(vc_uid: str) -> list[int]:
    """Processes whose command line points into this VirtualCluster's folder."""
    marker = f"/vc/{vc_uid}/"
    found = []
    for entry in pathlib.Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if marker in command:
            found.append(int(entry.name))
    return found


def events_of(listing: KubeObject, name: str) -> list[tuple[str, str]]:
    return [
        (item["reason"], item["message"])
        for item in listing["items"]
        if item["involvedObject"]["name"] == name
    ]
