"""Running the operator: Kopf configured for atoll, on one super-cluster.

`atoll operator` calls `run`. The Kopf handlers come from `handlers`; this module adds what
depends on the process: the connection, Kopf's storage and peering settings, the
provisioners, and the CRDs when asked to install them.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
import pathlib
import secrets
import socket
from typing import Any

import kopf

from atoll.core.kube import client as kube_client
from atoll.core.kube import config
from atoll.operator import handlers, install, probes, reconciler  # noqa: F401 - handlers register
from atoll.operator import settings as operator_settings
from atoll.operator.provisioners import base, kubernetes, process
from atoll.syncer import engine as syncer_engine

PEERING = "atoll"


def provisioners(
    api: kube_client.Client, settings: operator_settings.Settings
) -> dict[str, base.Provisioner]:
    return {
        "process": process.ProcessProvisioner(
            settings.process_root, ready_deadline=settings.ready_deadline
        ),
        "kubernetes": kubernetes.KubernetesProvisioner(api),
    }


def peer_identity(settings: operator_settings.Settings) -> Any:  # kopf keeps its type private
    """This operator's name among Kopf peers, the same across its restarts.

    A killed operator's peering record outlives it by Kopf's peer lifetime (60 s); under a
    name of its own, the restarted operator would take that record for a rival and pause
    until it expired. A pod keeps its name (POD_ID) across container restarts; a local
    operator is one per host and state folder.
    """
    local = f"atoll-operator@{socket.gethostname()}:{settings.state_dir}"
    return os.environ.get("POD_ID") or local


def _configure(access: config.ClusterAccess, server: probes.Probes | None) -> None:
    @kopf.on.startup()
    def tune(settings: kopf.OperatorSettings, **_: Any) -> None:
        if server is not None:
            server.ready.set()
        # The status schema is structural: Kopf's own state goes into annotations.
        settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix="atoll.dev")
        settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
            prefix="atoll.dev", key="last-handled-configuration"
        )
        settings.persistence.finalizer = "atoll.dev/finalizer"
        settings.posting.level = logging.WARNING
        settings.watching.server_timeout = 300
        settings.networking.request_timeout = 60

    @kopf.on.login()
    def login(**_: Any) -> kopf.ConnectionInfo:
        return kopf.ConnectionInfo(
            server=access.server,
            ca_data=base64.b64encode(access.ca_pem).decode(),
            certificate_data=(
                base64.b64encode(access.client_cert_pem).decode()
                if access.client_cert_pem
                else None
            ),
            private_key_data=(
                base64.b64encode(access.client_key_pem).decode() if access.client_key_pem else None
            ),
            # Called again by Kopf when a token stops working: a rotated one is read afresh.
            token=access.bearer_token(),
        )


async def run(
    kubeconfig: pathlib.Path | None,
    settings: operator_settings.Settings,
    *,
    install_crds: bool,
    liveness: str | None = None,
    stop: asyncio.Event | None = None,
    embedded_syncer: bool = True,
    probes_address: tuple[str, int] | None = None,
) -> None:
    """Serve until `stop` is set (or the process is signalled).

    With `embedded_syncer` (the local default), the syncer runs in this process too, on a
    connection pool of its own.
    """
    access = config.load(kubeconfig)
    server = probes.Probes(*probes_address) if probes_address else None
    _configure(access, server)
    if server is not None:
        await server.start()
    async with kube_client.Client(access, user_agent="atoll-operator") as api:
        if install_crds:
            await install.install(api)
        context = reconciler.Context(
            api=api, settings=settings, provisioners=provisioners(api, settings)
        )
        syncing = (
            asyncio.create_task(
                run_syncer(
                    access,
                    pool_label=settings.pool_label,
                    cluster_dns=settings.cluster_dns,
                    cluster_domain=settings.cluster_domain,
                )
            )
            if embedded_syncer
            else None
        )
        try:
            await kopf.operator(
                clusterwide=True,
                memo=kopf.Memo(context=context),
                liveness_endpoint=liveness,
                stop_flag=stop,
                peering_name=PEERING,
                standalone=False,
                identity=peer_identity(settings),
                # Replicas of equal priority would all pause each other; a random one per
                # process makes the highest live replica the one at work, the rest standbys.
                priority=secrets.randbelow(2**31) + 1,
            )
        finally:
            if server is not None:
                await server.stop()
            if syncing is not None:
                syncing.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await syncing


async def run_syncer(
    access: config.ClusterAccess,
    *,
    pool_label: str,
    shards: int = 1,
    shard: int = 0,
    patrol_interval: float = 60.0,
    cluster_dns: str | None = None,
    cluster_domain: str = "cluster.local",
) -> None:
    """The syncer alone, on its own connection pool to the super-cluster."""
    async with kube_client.Client(
        access, user_agent="atoll-syncer", max_connections=128
    ) as super_api:
        engine = syncer_engine.Engine(
            super_api,
            shards=shards,
            shard=shard,
            pool_label=pool_label,
            patrol_interval=patrol_interval,
            cluster_dns=cluster_dns,
            cluster_domain=cluster_domain,
        )
        await engine.run()
