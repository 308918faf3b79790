"""No secret value reaches the client or the logs: sentinel provider keys (from environment variables and a file,
named in the call and in the profile) travel to a careless orchagent server that echoes them back in its events
and answers; every tool result, progress message, elicitation, resource, error and log line is checked."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from runbridge.core import Profile, Settings
from runbridge.http import write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import EXAMPLE_SPECS, OrchagentState
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

OPENAI = "SENTINEL-OPENAI-KEY-0001"
TAVILY = "SENTINEL-TAVILY-KEY-0002"
ANTHROPIC = "SENTINEL-ANTHROPIC-KEY-0003"
GEMINI = "SENTINEL-GEMINI-KEY-0004"
SENTINELS = (OPENAI, TAVILY, ANTHROPIC, GEMINI)


@pytest.fixture(scope="module")
def leaky() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent", variant="leaky", keepalive_seconds=0.2) as server:
        yield server


class Seen:
    """Everything the client and the logs got to see."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *items: Any) -> None:
        for item in items:
            self.texts.append(item.model_dump_json() if hasattr(item, "model_dump_json") else repr(item))

    async def progress(self, progress: float, total: float | None, message: str | None) -> None:
        self.add(message)

    async def human(self, _ctx: Any, params: Any) -> Any:
        from mcp_types import ElicitResult

        self.add(params)
        content = {"decision": "approve"} if getattr(params, "mode", "form") == "form" else None
        return ElicitResult(action="accept", content=content)

    async def call(self, client: Client, name: str, args: dict[str, Any]) -> Any:
        result = await client.call_tool(name, args, progress_callback=self.progress)
        self.add(result)
        return result


@pytest.fixture
def settings(leaky: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OA_E2E_OPENAI_KEY", OPENAI)
    monkeypatch.setenv("OA_E2E_TAVILY_KEY", TAVILY)
    monkeypatch.setenv("OA_E2E_ANTHROPIC_KEY", ANTHROPIC)
    gemini = tmp_path / "gemini.key"
    gemini.write_text(GEMINI, encoding="utf-8")
    os.chmod(gemini, 0o600)
    token_file = tmp_path / "token.json"
    write_token_file(token_file, leaky.api_key)
    profile = Profile(
        name="oa",
        family="orchagent",
        base_url=leaky.base_url,
        token_file=token_file,
        options={
            "status_idle_seconds": 0.1,
            "secrets_from_env": {"providers.anthropic.api_key": "OA_E2E_ANTHROPIC_KEY"},
            "secrets_from_file": {"providers.google_genai.api_key": str(gemini)},
        },
        allowed_spec_dirs=[tmp_path],
    )
    return Settings(profiles={"oa": profile}, state_path=":memory:", wait_seconds=15, progress_interval_seconds=0)


@asynccontextmanager
async def connect(settings: Settings, mode: str, seen: Seen) -> AsyncIterator[Client]:
    async with Client(build_server(settings), mode=mode, elicitation_callback=seen.human) as client:
        yield client


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_no_secret_value_reaches_a_result_a_notification_an_error_or_a_log_line(
    mode: str, settings: Settings, leaky: SandboxServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    spec = tmp_path / "calendar.json"
    spec.write_text(json.dumps(EXAMPLE_SPECS["calendar_hil_chat"]), encoding="utf-8")
    seen = Seen()
    with anyio.fail_after(45):
        async with connect(settings, mode, seen) as client:
            created = await seen.call(client, "threads_create", {"path": str(spec)})
            thread_id = created.structured_content["thread_id"]
            stored = await seen.call(
                client,
                "threads_set_secrets",
                {"thread_id": thread_id, "secrets_from_env": {"TAVILY_API_KEY": "OA_E2E_TAVILY_KEY"}},
            )
            asked = await seen.call(
                client,
                "threads_ask",
                {
                    "thread_id": thread_id,
                    "user_prompt": "Book a sync",
                    "secrets_from_env": {"providers.openai.api_key": "OA_E2E_OPENAI_KEY"},
                },
            )
            run_id = asked.structured_content["run_id"]
            for name, args in [
                ("threads_history", {"thread_id": thread_id}),
                ("runs_get", {"run_id": run_id}),
                ("runs_events", {"run_id": run_id, "limit": 500}),
                ("gates_list", {"include_closed": True}),
                ("runs_list", {}),
            ]:
                await seen.call(client, name, args)
            seen.add(await client.read_resource(f"runbridge://oa/runs/{run_id}"))
            seen.add(await client.read_resource(f"runbridge://oa/runs/{run_id}/events"))
            errors = [
                # a variable that is not set; a secret pasted where its variable's name belongs
                await seen.call(client, "threads_send", {**_msg(thread_id), "secrets_from_env": {"k": "OA_E2E_UNSET"}}),
                await seen.call(
                    client,
                    "threads_send",
                    {**_msg(thread_id), "secrets_from_env": {"providers.openai.api_key": OPENAI}},
                ),
                await seen.call(
                    client, "threads_send", {**_msg("th_nope"), "secrets_from_env": {"a": "OA_E2E_OPENAI_KEY"}}
                ),
            ]

    assert stored.structured_content["keys"] == ["TAVILY_API_KEY"]
    assert asked.structured_content["reply"].startswith("Your meeting is booked")
    assert all(e.is_error for e in errors), [e.content for e in errors]
    state = leaky.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
    assert isinstance(state, OrchagentState)
    merged = json.dumps(state.runs[run_id].secrets)
    assert all(secret in merged for secret in SENTINELS), "the server must have received every value"
    everything = "\n".join(seen.texts)
    assert "***" in everything, "the careless server echoed the secrets; runbridge must have scrubbed them"
    logs = caplog.text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in SENTINELS:
        assert secret not in everything, f"{secret} reached the client"
        assert secret not in logs, f"{secret} reached a log line"


def _msg(thread_id: str) -> dict[str, Any]:
    return {"thread_id": thread_id, "user_prompt": "again"}
