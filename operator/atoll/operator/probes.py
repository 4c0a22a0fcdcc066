"""The operator's readiness endpoint, next to Kopf's liveness one, plus `/metrics`.

`/readyz` answers 200 once the CRDs are installed and Kopf has started its handlers, 503
before; `/metrics` serves the process's Prometheus metrics (the syncer's among them).
"""

from __future__ import annotations

import asyncio

import prometheus_client
from aiohttp import web


class Probes:
    """A small HTTP server; `ready` flips what `/readyz` says."""

    def __init__(self, host: str, port: int) -> None:
        self.ready = asyncio.Event()
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self._host, self._port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _readyz(self, _request: web.Request) -> web.Response:
        if self.ready.is_set():
            return web.Response(text="ok\n")
        return web.Response(status=503, text="starting\n")

    async def _metrics(self, _request: web.Request) -> web.Response:
        body = prometheus_client.generate_latest()
        return web.Response(
            body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST}
        )
