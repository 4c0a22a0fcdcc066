"""Service-account tokens for tenant pods, issued by the TENANT API server.

A tenant pod that mounts its service-account token must reach the tenant API with it, so the
super-cluster's own token will not do: the syncer asks the tenant for one (TokenRequest) and
keeps it in a super Secret per service account and super namespace, which the translated pod
mounts (`pods.translate`). The token is asked for again once half its life is gone. Pods of
one account arrive in bursts; one of them asks, the others find the Secret in the cache.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from typing import TYPE_CHECKING

from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from atoll.syncer import mapping
from atoll.syncer.pods import translate

if TYPE_CHECKING:
    from atoll.syncer import engine as engine_module
    from atoll.syncer import tenant as tenant_module

KubeObject = kube_client.KubeObject
TOKEN_SECONDS = 3600
TOKEN_EXPIRES = "atoll.dev/token-expires"  # noqa: S105 - an annotation key


def token_secret_name(service_account: str) -> str:
    return naming.fit(f"atoll-token-{service_account}", limit=253)


def service_account(pod: KubeObject) -> str:
    return str((pod.get("spec") or {}).get("serviceAccountName") or "default")


class TokenKeeper:
    """Issues and refreshes the token Secrets of every tenant's pods."""

    def __init__(self, engine: engine_module.Engine) -> None:
        self.engine = engine
        self._issuing: dict[tuple[str, str], asyncio.Lock] = {}  # (namespace, secret) → lock

    async def ensure(
        self, syncer: tenant_module.TenantSyncer, tenant_pod: KubeObject
    ) -> str | None:
        """The name of a super Secret holding a token for the pod's service account."""
        if not translate.mounts_token(tenant_pod):
            return None
        super_namespace = mapping.super_namespace(
            syncer.tenant, tenant_pod["metadata"]["namespace"]
        )
        await self.refresh(syncer, tenant_pod, super_namespace, force_missing=True)
        return token_secret_name(service_account(tenant_pod))

    async def refresh(
        self,
        syncer: tenant_module.TenantSyncer,
        tenant_pod: KubeObject,
        super_namespace: str,
        *,
        force_missing: bool = False,
    ) -> None:
        """Ask for a new token when the kept one is past half its life (or, with
        `force_missing`, when there is none)."""
        if not translate.mounts_token(tenant_pod):
            return
        name = token_secret_name(service_account(tenant_pod))
        if not self._due(super_namespace, name, force_missing=force_missing):
            return

        place = (super_namespace, name)
        lock = self._issuing.setdefault(place, asyncio.Lock())
        try:
            async with lock:
                # Another pod of the account may have asked while this one waited.
                if self._due(super_namespace, name, force_missing=force_missing):
                    await self._issue(syncer, tenant_pod, super_namespace, name)
        finally:
            if not lock.locked():
                self._issuing.pop(place, None)

    def _due(self, super_namespace: str, name: str, *, force_missing: bool) -> bool:
        secret = self.engine.super_cache("Secret").get(f"{super_namespace}/{name}")
        if secret is None:
            return force_missing
        expires = (secret["metadata"].get("annotations") or {}).get(TOKEN_EXPIRES)
        return not expires or _seconds_left(expires) <= TOKEN_SECONDS / 2

    async def _issue(
        self,
        syncer: tenant_module.TenantSyncer,
        tenant_pod: KubeObject,
        super_namespace: str,
        name: str,
    ) -> None:
        tenant_namespace = tenant_pod["metadata"]["namespace"]
        issued = await syncer.api.create(
            resources.SERVICEACCOUNTS.path(tenant_namespace, service_account(tenant_pod), "token"),
            {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": TOKEN_SECONDS},
            },
        )
        body = {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "Opaque",
            "metadata": {
                "name": name,
                "namespace": super_namespace,
                "labels": syncer.tenant.labels,
                "annotations": {
                    TOKEN_EXPIRES: issued["status"]["expirationTimestamp"],
                    mapping.TENANT_NAMESPACE: tenant_namespace,
                },
            },
            "data": {
                "token": _b64(issued["status"]["token"].encode()),
                "ca.crt": _b64(syncer.api.access.ca_pem),
                "namespace": _b64(tenant_namespace.encode()),
            },
        }

        path = resources.SECRETS.path(super_namespace, name)
        kept = self.engine.super_cache("Secret").get(f"{super_namespace}/{name}")
        try:
            written = await (
                self.engine.api.replace(path, body)
                if kept is not None
                else self.engine.api.create(resources.SECRETS.path(super_namespace), body)
            )
        except errors.AlreadyExists:
            written = await self.engine.api.replace(path, body)
        # Seen at once by the next pod of the account, not when the watch brings it.
        self.engine.super_informers["Secret"].observe(written)


def _seconds_left(timestamp: str) -> float:
    moment = datetime.datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return (moment - datetime.datetime.now(datetime.UTC)).total_seconds()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
