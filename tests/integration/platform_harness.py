"""The platform adapter on the platform sandbox over loopback: a profile, the adapter inside a task group (as the
server runs it), and the sandbox's steering endpoint."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest

from runbridge.backends.platform.adapter import PlatformBackend
from runbridge.core import Profile
from runbridge.core.models import RunEvent
from runbridge.sandbox import SandboxServer

KEY_ENV = "RUNBRIDGE_TEST_PLATFORM_KEY"
LLM_ENV = "RUNBRIDGE_TEST_LLM_KEY"


@pytest.fixture
def platform() -> Iterator[SandboxServer]:
    with SandboxServer("platform") as server:
        yield server


def steer(sandbox: SandboxServer, **doc: Any) -> dict[str, Any]:
    """`POST /_sandbox/platform`: the quota, forced 429s, the balance, workspace secrets."""
    response = httpx2.post(f"{sandbox.base_url}/_sandbox/platform", json=doc)
    response.raise_for_status()
    return response.json()


def requests_to(sandbox: SandboxServer, route: str) -> int:
    return int(sandbox.stats()["requests"].get(route, 0))


def profile_for(sandbox: SandboxServer, **options: Any) -> Profile:
    return Profile(
        name="oa", family="platform", base_url=sandbox.base_url, api_key_env=KEY_ENV, options=options, max_retries=2
    )


@asynccontextmanager
async def adapter(
    sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch, *, background: bool = True, **options: Any
) -> AsyncIterator[PlatformBackend]:
    """The adapter, with the server's task group for calls read in the background (or none: read inline)."""
    monkeypatch.setenv(KEY_ENV, sandbox.api_key)
    async with anyio.create_task_group() as tasks:
        backend = PlatformBackend(profile_for(sandbox, **options), tasks=tasks if background else None)
        try:
            yield backend
        finally:
            await backend.aclose()
            tasks.cancel_scope.cancel()


async def events_of(backend: PlatformBackend, run_id: str, cursor: str | None = None) -> list[RunEvent]:
    with anyio.fail_after(20):
        return [event async for event in backend.watch(run_id, cursor=cursor)]
