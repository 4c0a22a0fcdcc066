"""Inside a pod atoll authenticates as the pod's service account, following token rotation.

The token file stands in for the one the kubelet projects into a pod: a real token issued by
the super-cluster for a real ServiceAccount, replaced while the client is open.
"""

from __future__ import annotations

import pathlib

import pytest

from atoll.core.kube import client as kube_client
from atoll.core.kube import config, errors, resources
from support import cluster as support_cluster
from support import tenants

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]


async def test_each_request_presents_the_token_file_as_it_is_now(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster, tmp_path: pathlib.Path
) -> None:
    account = tenants.unique("in-cluster")
    await api.create(resources.SERVICEACCOUNTS.path("default"), {"metadata": {"name": account}})
    issued = await api.create(
        resources.SERVICEACCOUNTS.path("default", account, "token"),
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}},
    )
    folder = tmp_path / "serviceaccount"
    folder.mkdir()
    (folder / "ca.crt").write_bytes(super_cluster.access.ca_pem)
    (folder / "token").write_text(issued["status"]["token"])
    address = super_cluster.access.server.removeprefix("https://")
    host, port = address.rsplit(":", 1)
    access = config.in_cluster(
        folder, {"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port}
    )
    probe = resources.SERVICEACCOUNTS.path("default", account)

    async with kube_client.Client(access) as pod_client:
        # Known to the API server, though not allowed to read: authenticated as the account.
        with pytest.raises(errors.Forbidden, match=account):
            await pod_client.get(probe)

        (folder / "token").write_text("no-longer-valid")
        with pytest.raises(errors.Unauthorized):
            await pod_client.get(probe)
