"""End-to-end fixtures: the sandbox on loopback, runbridge built on it, and the official MCP client in both eras."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from mcp import Client
from tests.mcp_people import Human, Progress

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer
from runbridge.server import build_server

KEY_ENV = "RUNBRIDGE_E2E_SANDBOX_KEY"
WORKFLOWS = ["approval-demo", "clarify-demo", "failing-demo", "long-demo", "quick-demo", "external-demo"]


def one_profile(profile: Profile) -> Settings:
    """runbridge's settings for an end-to-end test on one profile: the run store in memory, calls waiting up to 15 s
    with a heartbeat every 5 s, and progress said as it comes."""
    return Settings(
        profiles={profile.name: profile},
        state_path=":memory:",
        wait_seconds=15,
        heartbeat_seconds=5,
        progress_interval_seconds=0,
    )


def ok(result: Any) -> dict[str, Any]:
    """A tool result's structured content, checked to be a success that has one."""
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


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
    return one_profile(profile)


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


# -- the MCP-surface tests: a slower sandbox, and a transcript that checks no secret ever reaches the client ------

SLOW_SPEED = 10.0  # long-demo takes 55 x 0.2 s / 10 = 1.1 s: long enough to return a handle or cancel a call mid-run


@pytest.fixture(scope="session")
def slow_sandbox() -> Iterator[SandboxServer]:
    """A second sandbox whose steps take real time (the session sandbox skips every delay)."""
    with SandboxServer("openwop", keepalive_seconds=0.2, speed=SLOW_SPEED) as server:
        yield server


@pytest.fixture
def slow_settings(settings: Settings, sandbox: SandboxServer, slow_sandbox: SandboxServer) -> Settings:
    """`settings` with the profile pointing at the slow sandbox (same key, same workflows)."""
    assert slow_sandbox.api_key == sandbox.api_key  # the key env var set by `settings` serves both
    profile = settings.profiles["sandbox"].model_copy(update={"base_url": slow_sandbox.base_url})
    return settings.model_copy(update={"profiles": {"sandbox": profile}})


class Transcript:
    """Everything the client saw in a test (tool results, progress, questions, resources, prompts), so that one
    check can prove no secret reached it. `ok`/`refused` call a tool and record what came back."""

    def __init__(self, *secrets: str) -> None:
        self.secrets = [s for s in secrets if s]
        self.texts: list[str] = []

    def record(self, *items: Any) -> None:
        for item in items:
            if hasattr(item, "model_dump_json"):
                self.texts.append(item.model_dump_json())
            self.texts.append(repr(item))

    def progress(self) -> Progress:
        """A progress recorder whose messages are part of the transcript."""
        transcript = self

        class _Recorded(Progress):
            async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
                transcript.record(message)
                await super().__call__(progress, total, message)

        return _Recorded()

    async def call(self, client: Client, name: str, args: dict[str, Any] | None = None, **kw: Any) -> Any:
        result = await client.call_tool(name, args or {}, **kw)
        self.record(result)
        return result

    async def ok(self, client: Client, name: str, args: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        result = await self.call(client, name, args, **kw)
        assert not result.is_error, f"{name} failed: {result.content}"
        assert result.structured_content is not None
        return result.structured_content

    async def refused(self, client: Client, name: str, args: dict[str, Any] | None = None) -> str:
        """The tool error's text, checked to be a curated message: no stack trace, no file paths."""
        result = await self.call(client, name, args)
        assert result.is_error, f"{name}({args}) should have been refused: {result.structured_content}"
        text = "\n".join(getattr(c, "text", "") for c in result.content)
        assert text.strip()
        assert "Traceback" not in text
        assert 'File "' not in text
        return text

    def assert_clean(self) -> None:
        assert self.texts, "nothing was recorded"
        for secret in self.secrets:
            leaks = [t for t in self.texts if secret in t]
            assert not leaks, f"a secret reached the client: {leaks[0][:300]}"


@pytest.fixture
def transcript(sandbox: SandboxServer) -> Iterator[Transcript]:
    """A `Transcript` checked at the end of the test: the sandbox key never appears in it."""
    recorded = Transcript(sandbox.api_key)
    yield recorded
    recorded.assert_clean()
