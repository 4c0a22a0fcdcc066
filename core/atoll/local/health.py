"""Waiting, with a deadline, until a component of the super-cluster serves.

A component is healthy when its HTTPS health endpoint answers 200 through a connection
verified with the cluster's own CA. Waiting stops early, with the component's last log
lines, when its process exits: a crash at start-up is reported, not waited out.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from typing import Protocol

import aiohttp

from atoll.local import components, credentials


class Watched(Protocol):
    """A process being waited on: a `process.ChildProcess` or a registry's record."""

    @property
    def alive(self) -> bool: ...

    @property
    def exit_code(self) -> int | None: ...

    def log_tail(self, lines: int = 20) -> list[str]: ...


class StartupFailed(Exception):
    """A component did not become healthy; `log_tail` says why, in its own words."""

    def __init__(self, message: str, log_tail: list[str]) -> None:
        super().__init__(message)
        self.log_tail = log_tail


def ssl_context_for(
    component: components.Component, material: credentials.Credentials
) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(material.cert(component.health_ca)))
    if component.health_client:
        context.load_cert_chain(
            material.cert(component.health_client), material.key(component.health_client)
        )
    return context


async def wait_healthy(
    component: components.Component,
    child: Watched,
    material: credentials.Credentials,
    *,
    deadline: float,
) -> None:
    """Return once `component` answers its health check; raise `StartupFailed` otherwise."""
    context = ssl_context_for(component, material)
    give_up = time.monotonic() + deadline
    last_answer = "no answer yet"

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
        while True:
            if not child.alive:
                raise StartupFailed(
                    f"{component.name} exited with code {child.exit_code} while starting",
                    child.log_tail(),
                )
            try:
                async with session.get(component.health_url, ssl=context) as answer:
                    if answer.status == 200:
                        return
                    last_answer = f"HTTP {answer.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as error:
                last_answer = type(error).__name__
            if time.monotonic() > give_up:
                raise StartupFailed(
                    f"{component.name} not healthy after {deadline:.0f} s ({last_answer})",
                    child.log_tail(),
                )
            await asyncio.sleep(0.2)
