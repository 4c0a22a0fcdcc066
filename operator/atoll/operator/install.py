"""Installing atoll's CRDs (and the objects that ship with them) on a super-cluster.

CRDs are applied server-side on every start, so an upgraded operator brings its schema
along; the default ClusterVersion and Kopf's peering object are created only when missing,
so an administrator's edits to them survive restarts.
"""

from __future__ import annotations

import functools
from typing import Any

import structlog

from atoll.core import api as atoll_api
from atoll.core import wait
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources

log = structlog.get_logger("atoll.install")

PEERINGS = resources.Resource(
    "kopf.dev", "v1", "clusterkopfpeerings", namespaced=False, kind="ClusterKopfPeering"
)
_BY_KIND = {
    resource.kind: resource for resource in (resources.CRDS, atoll_api.CLUSTERVERSIONS, PEERINGS)
}


async def install(api: kube_client.Client, *, timeout: float = 60.0) -> None:
    """Apply the CRDs, wait until they are served, then create the shipped objects."""
    manifests = atoll_api.manifests()
    for manifest in manifests:
        if manifest["kind"] == "CustomResourceDefinition":
            name = str(manifest["metadata"]["name"])  # type: ignore[index]
            await api.patch(
                resources.CRDS.path(name=name),
                manifest,
                patch_type="apply",
                field_manager="atoll",
                force=True,
            )
            await wait.until(
                functools.partial(_established, api, name),
                timeout=timeout,
                what=f"CRD {name} to be established",
            )

    for manifest in manifests:
        kind = str(manifest["kind"])
        if kind == "CustomResourceDefinition":
            continue
        resource = _BY_KIND[kind]
        try:
            await api.create(resource.path(), manifest)
            log.info("installed", kind=kind, name=manifest["metadata"]["name"])  # type: ignore[index]
        except errors.AlreadyExists:
            continue


async def _established(api: kube_client.Client, name: str) -> bool:
    crd: dict[str, Any] = await api.get(resources.CRDS.path(name=name))
    return any(
        item.get("type") == "Established" and item.get("status") == "True"
        for item in crd.get("status", {}).get("conditions") or []
    )
