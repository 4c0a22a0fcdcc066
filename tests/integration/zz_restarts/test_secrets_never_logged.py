"""No key, token or tenant secret in any log or Event, after everything the session did.

It runs last (see `test_restart_super_api_server`), once the kills, restarts and outages of
the fault tests have made the operator, the syncer and the API servers log their worst. It
reads every VirtualCluster's Secrets from the super-cluster — the tenant CAs' and
service-account keys, the client keys of the kubeconfigs, the tenant-issued bearer tokens,
the tenants' own Secrets copied down — and looks for each value, as stored (base64) and as
used (the PEM body, the token), in every log file under the state folder and in the message
of every Event of the super-cluster and of each tenant that answers. "PRIVATE KEY" may
appear nowhere either.
"""

from __future__ import annotations

import base64
import dataclasses

import pytest

from atoll.core import api as atoll_api
from atoll.core import naming
from atoll.core.kube import client as kube_client
from atoll.core.kube import errors, resources
from support import cluster as support_cluster
from support import vcs

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.cluster]

MIN_LENGTH = 24  # shorter values (a namespace name, a port) are not secrets worth finding
PUBLIC_KEYS = ("ca.crt", "namespace")  # certificates and names are not secret


@dataclasses.dataclass(frozen=True)
class Needle:
    """One secret value to look for, and where it comes from (never the value itself)."""

    text: bytes
    origin: str


def _needles(secret: kube_client.KubeObject) -> list[Needle]:
    metadata = secret["metadata"]
    found = []
    for key, stored in (secret.get("data") or {}).items():
        if key in PUBLIC_KEYS or key.endswith(".crt"):
            continue
        origin = f"Secret {metadata['namespace']}/{metadata['name']} key {key}"
        plain = base64.b64decode(stored)
        candidates = [stored.encode(), plain]
        if plain.startswith(b"-----BEGIN"):
            # A PEM logged with its newlines escaped still shows its body lines.
            candidates = [stored.encode(), *plain.splitlines()[1:-1][:2]]
        found += [Needle(text, origin) for text in candidates if len(text) >= MIN_LENGTH]
    return found


async def _event_messages(api: kube_client.Client) -> list[tuple[str, str]]:
    """(where, message) of every Event on the super-cluster and on each answering tenant."""
    messages = [
        (f"super Event {item['metadata']['namespace']}/{item['metadata']['name']}", item["message"])
        for item in (await api.get(resources.EVENTS.path()))["items"]
    ]
    for vc in (await api.get(atoll_api.VIRTUALCLUSTERS.path()))["items"]:
        metadata = vc["metadata"]
        if (vc.get("status") or {}).get("phase") != "Running":
            continue
        try:
            access = await vcs.tenant_access(api, metadata["namespace"], metadata["name"])
            async with kube_client.Client(access, timeout=10) as tenant:
                listing = await tenant.get(resources.EVENTS.path())
        except errors.ApiError:
            continue  # going away, or paused since the listing
        messages += [
            (f"tenant {metadata['name']} Event {item['metadata']['name']}", item.get("message", ""))
            for item in listing["items"]
        ]
    return messages


async def test_no_key_token_or_secret_in_logs_or_events(
    api: kube_client.Client, super_cluster: support_cluster.SuperCluster
) -> None:
    secrets = await api.get(resources.SECRETS.path(), params={"labelSelector": naming.VC_UID})
    needles = [needle for secret in secrets["items"] for needle in _needles(secret)]
    needles.append(Needle(b"PRIVATE KEY", "any private key"))
    logs = sorted(super_cluster.folder.root.glob("**/*.log"))
    events = await _event_messages(api)

    leaks = []
    scanned = 0
    for log in logs:
        content = log.read_bytes()
        scanned += len(content)
        leaks += [f"{needle.origin} in {log}" for needle in needles if needle.text in content]
    for where, message in events:
        encoded = message.encode()
        leaks += [f"{needle.origin} in {where}" for needle in needles if needle.text in encoded]

    print(  # noqa: T201 - what the scan covered
        f"\nsecret scan: {len(needles)} values from {len(secrets['items'])} Secrets, "
        f"{len(logs)} log files ({scanned / 1e6:.1f} MB), {len(events)} Event messages"
    )
    assert len(secrets["items"]) > 0
    assert any(log.name == "atoll-operator.log" for log in logs)
    assert leaks == []
