"""An asynchronous Kubernetes API client that speaks raw JSON.

atoll's hot paths (the syncer, the node simulator) handle thousands of objects a second, so
objects stay plain dicts decoded by orjson: no model classes. One `Client` holds one pooled
HTTP session to one API server. Every failure surfaces as an `atoll.core.kube.errors.ApiError`.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal, Self

import aiohttp
import orjson

from atoll.core.kube import config, errors

KubeObject = dict[str, Any]
PatchType = Literal["merge", "strategic", "json", "apply"]

_PATCH_CONTENT_TYPES: dict[PatchType, str] = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
    "apply": "application/apply-patch+yaml",
}
_TRANSPORT_ERRORS = (aiohttp.ClientError, OSError, asyncio.TimeoutError)
# Idle connections are kept this long, just under the API server's 90 s: a burst after a
# pause then finds its TLS connections open instead of paying a handshake for each.
KEEPALIVE = 80.0


class Client:
    """Connections to one API server; use as `async with Client(access) as client`.

    Requests share a pool of `max_connections`. Each watch holds a connection of its own for
    as long as it runs, outside that pool: a client with a dozen informers would otherwise
    have its writes queue behind its own watches.
    """

    def __init__(
        self,
        access: config.ClusterAccess,
        *,
        timeout: float = 30.0,
        max_connections: int = 64,
        user_agent: str = "atoll",
    ) -> None:
        self.access = access
        self.timeout = timeout
        self._max_connections = max_connections
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None
        self._watch_session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: types.TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._watch_session is not None:
            await self._watch_session.close()
            self._watch_session = None

    def _rotating_authorization(self) -> dict[str, str]:
        # A token file is read for each request: the kubelet replaces it before it expires.
        if self.access.token_file is None:
            return {}
        return {"Authorization": f"Bearer {self.access.bearer_token()}"}

    def _http(self) -> aiohttp.ClientSession:
        # Created on first use so that it binds to the running event loop.
        if self._session is None:
            self._session = self._new_session(limit=self._max_connections)
        return self._session

    def _watch_http(self) -> aiohttp.ClientSession:
        if self._watch_session is None:
            self._watch_session = self._new_session(limit=0)  # one connection per watch
        return self._watch_session

    def _new_session(self, *, limit: int) -> aiohttp.ClientSession:
        headers = {"User-Agent": self._user_agent, "Accept": "application/json"}
        if self.access.token and self.access.token_file is None:
            headers["Authorization"] = f"Bearer {self.access.token}"
        return aiohttp.ClientSession(
            base_url=self.access.server,
            headers=headers,
            connector=aiohttp.TCPConnector(
                ssl=self.access.ssl_context(), limit=limit, keepalive_timeout=KEEPALIVE
            ),
            json_serialize=lambda value: orjson.dumps(value).decode(),
        )

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: object = None,
        content_type: str = "application/json",
        timeout: float | None = None,
    ) -> KubeObject:
        """One API call; returns the decoded answer, raises `ApiError` on any failure."""
        data = orjson.dumps(body) if body is not None else None
        headers = {"Content-Type": content_type} if data is not None else {}
        headers.update(self._rotating_authorization())
        client_timeout = aiohttp.ClientTimeout(total=timeout or self.timeout)

        try:
            async with self._http().request(
                method, path, params=params, data=data, headers=headers, timeout=client_timeout
            ) as answer:
                payload = await answer.read()
                status = answer.status
        except _TRANSPORT_ERRORS as error:
            raise errors.Unreachable(f"{method} {path}: {error!r}") from error

        decoded = _decode(payload)
        if status >= 400:
            raise errors.from_status(
                status, decoded, fallback=payload[:200].decode("utf-8", "replace")
            )
        return decoded

    async def get(self, path: str, *, params: Mapping[str, str | int] | None = None) -> KubeObject:
        return await self.request("GET", path, params=params)

    async def create(self, path: str, obj: KubeObject) -> KubeObject:
        return await self.request("POST", path, body=obj)

    async def replace(self, path: str, obj: KubeObject) -> KubeObject:
        return await self.request("PUT", path, body=obj)

    async def patch(
        self,
        path: str,
        patch: object,
        *,
        patch_type: PatchType = "merge",
        field_manager: str | None = None,
        force: bool = False,
    ) -> KubeObject:
        """Patch an object; `apply` is server-side apply and needs a `field_manager`."""
        params: dict[str, str | int] = {}
        if field_manager:
            params["fieldManager"] = field_manager
        if force:
            params["force"] = "true"
        return await self.request(
            "PATCH", path, params=params, body=patch, content_type=_PATCH_CONTENT_TYPES[patch_type]
        )

    async def delete(
        self,
        path: str,
        *,
        uid: str | None = None,
        resource_version: str | None = None,
        grace_period_seconds: int | None = None,
        propagation_policy: str | None = None,
    ) -> KubeObject:
        """Delete an object; `uid` and `resource_version` become preconditions."""
        options: KubeObject = {"apiVersion": "v1", "kind": "DeleteOptions"}
        preconditions = {
            key: value
            for key, value in (("uid", uid), ("resourceVersion", resource_version))
            if value
        }
        if preconditions:
            options["preconditions"] = preconditions
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        return await self.request("DELETE", path, body=options)

    async def watch(
        self,
        path: str,
        *,
        resource_version: str,
        params: Mapping[str, str | int] | None = None,
        timeout_seconds: int = 300,
    ) -> AsyncIterator[tuple[str, KubeObject]]:
        """Stream `(type, object)` watch events until the server ends the watch.

        Raises `Gone` when `resource_version` is too old, so the caller lists again.
        """
        query: dict[str, str | int] = dict(params or {})
        query.update(
            watch="1",
            resourceVersion=resource_version,
            allowWatchBookmarks="true",
            timeoutSeconds=timeout_seconds,
        )
        # The server closes the stream after timeoutSeconds; a silent socket longer than
        # that means the connection is dead.
        client_timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=self.timeout, sock_read=timeout_seconds + 30
        )
        try:
            async with self._watch_http().get(
                path,
                params=query,
                timeout=client_timeout,
                headers=self._rotating_authorization(),
            ) as answer:
                if answer.status >= 400:
                    payload = await answer.read()
                    raise errors.from_status(answer.status, _decode(payload))
                async for line in _lines(answer.content):
                    event = orjson.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object") or {}
                        raise errors.from_status(int(status.get("code", 500)), status)
                    yield event["type"], event["object"]
        except _TRANSPORT_ERRORS as error:
            raise errors.Unreachable(f"watch {path}: {error!r}") from error

    async def version(self) -> KubeObject:
        return await self.get("/version")


def _decode(payload: bytes) -> KubeObject:
    if not payload:
        return {}
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return {}
    return decoded if isinstance(decoded, dict) else {"items": decoded}


async def _lines(content: aiohttp.StreamReader) -> AsyncIterator[bytes]:
    # Watch events are newline-delimited JSON of any size; StreamReader.readline caps lines.
    buffer = b""
    async for chunk in content.iter_any():
        buffer += chunk
        *complete, buffer = buffer.split(b"\n")
        for line in complete:
            if line.strip():
                yield line
    if buffer.strip():
        yield buffer
