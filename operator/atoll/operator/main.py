"""Running the operator: Kopf configured for atoll, on one super-cluster.

`atoll operator` calls `run`. The Kopf handlers come from `handlers`; this module adds what
depends on the process: the connection, Kopf's storage and peering settings, the
provisioners, and the CRDs when asked to install them.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import pathlib
from typing import Any

import kopf

from atoll.core.kube import client as kube_client
from atoll.core.kube import config
from atoll.operator import handlers, install, reconciler  # noqa: F401 - handlers register
from atoll.operator import settings as operator_settings
from atoll.operator.provisioners import base, process

PEERING = "atoll"


def provisioners(settings: operator_settings.Settings) -> dict[str, base.Provisioner]:
    return {
        "process": process.ProcessProvisioner(
            settings.process_root, ready_deadline=settings.ready_deadline
        ),
    }


def _configure(access: config.ClusterAccess) -> None:
    @kopf.on.startup()
    def tune(settings: kopf.OperatorSettings, **_: Any) -> None:
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
            token=access.token,
        )


async def run(
    kubeconfig: pathlib.Path,
    settings: operator_settings.Settings,
    *,
    install_crds: bool,
    liveness: str | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Serve until `stop` is set (or the process is signalled)."""
    access = config.load_kubeconfig(kubeconfig)
    _configure(access)
    async with kube_client.Client(access, user_agent="atoll-operator") as api:
        if install_crds:
            await install.install(api)
        context = reconciler.Context(
            api=api, settings=settings, provisioners=provisioners(settings)
        )
        await kopf.operator(
            clusterwide=True,
            memo=kopf.Memo(context=context),
            liveness_endpoint=liveness,
            stop_flag=stop,
            peering_name=PEERING,
            standalone=False,
        )
