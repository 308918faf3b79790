"""End-to-end fixtures: the sandbox on loopback, runbridge built on it, and the official MCP client in both eras."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestParams, ElicitResult

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

KEY_ENV = "RUNBRIDGE_E2E_SANDBOX_KEY"
WORKFLOWS = ["approval-demo", "clarify-demo", "failing-demo", "long-demo", "quick-demo", "external-demo"]


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("openwop", keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv(KEY_ENV, sandbox.api_key)
    profile = Profile(
        name="sandbox", family="openwop", base_url=sandbox.base_url, api_key_env=KEY_ENV, workflows=WORKFLOWS
    )
    return Settings(
        profiles={"sandbox": profile},
        state_path=":memory:",
        wait_seconds=15,
        heartbeat_seconds=5,
        progress_interval_seconds=0,
    )


class Human:
    """A scripted person answering elicitations: each answer is (action, content); every question is kept."""

    def __init__(self, *answers: tuple[str, dict[str, Any] | None]) -> None:
        self.answers = list(answers)
        self.questions: list[ElicitRequestParams] = []

    async def __call__(self, _ctx: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params)
        action, content = self.answers.pop(0) if self.answers else ("cancel", None)
        return ElicitResult(action=action, content=content)  # type: ignore[arg-type]


class Progress:
    def __init__(self) -> None:
        self.updates: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.updates.append((progress, total, message))


@pytest.fixture
def connect(settings: Settings) -> Callable[..., Any]:
    """`async with connect(mode=..., human=...) as client:` against a fresh runbridge built on `settings`."""

    @asynccontextmanager
    async def _connect(
        mode: str = "auto", human: Human | None = None, server_settings: Settings | None = None
    ) -> AsyncIterator[Client]:
        server = build_server(server_settings or settings)
        async with Client(server, mode=mode, elicitation_callback=human) as client:  # type: ignore[arg-type]
            yield client

    return _connect


@pytest.fixture
def human_factory() -> type[Human]:
    return Human


@pytest.fixture
def progress() -> Progress:
    return Progress()
