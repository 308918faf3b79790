"""Secret references naming runbridge's own credentials are refused before anything is sent: the official MCP
client asks runbridge (on the orchagent sandbox) to send a profile's API key, its token file (through a symlink and
through `..`), the state key and the request-state key file, and to read a token file as a workflow spec. Each call
is a tool error naming the refused reference and never its value, and the sandbox ends with no thread, run or stored
secret from them; a profile's allow-list narrows what is left the same way."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, TextContent

from runbridge.core import Profile, Settings
from runbridge.http import write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import OrchagentState
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

WOP_KEY = "SENTINEL-policy-openwop-key-61c0"
STATE_KEY = "SENTINEL-policy-state-key-0123456789abcdef"
OPENAI = "SENTINEL-policy-openai-9a7e"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent", keepalive_seconds=0.2) as server:
        yield server


def _state(sandbox: SandboxServer) -> OrchagentState:
    state = sandbox.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
    assert isinstance(state, OrchagentState)
    return state


def _text(result: CallToolResult) -> str:
    return "\n".join(part.text for part in result.content if isinstance(part, TextContent))


def _refusal(result: CallToolResult, *secrets: str) -> str:
    assert result.is_error, result.structured_content
    text = _text(result)
    assert "Refused" in text, text
    for secret in secrets:
        assert secret not in text
    assert "Traceback" not in text
    return text


@pytest.fixture
def settings(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("OA_POLICY_WOP_KEY", WOP_KEY)
    monkeypatch.setenv("RUNBRIDGE_STATE_KEY", STATE_KEY)
    monkeypatch.setenv("OA_POLICY_OPENAI", OPENAI)
    token_file = tmp_path / "creds" / "token.json"
    write_token_file(token_file, sandbox.api_key)
    oa = Profile(
        name="oa",
        family="orchagent",
        base_url=sandbox.base_url,
        token_file=token_file,
        options={"status_idle_seconds": 0.1},
    )
    wop = Profile(name="wop", family="openwop", base_url="http://127.0.0.1:9", api_key_env="OA_POLICY_WOP_KEY")
    state_path = tmp_path / "state" / "state.db"
    return Settings(
        profiles={"oa": oa, "wop": wop},
        default_profile="oa",
        state_path=str(state_path),
        wait_seconds=10,
        progress_interval_seconds=0,
    )


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_references_to_runbridges_own_credentials_are_refused_and_nothing_reaches_the_backend(
    mode: str, settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    token_file = settings.profiles["oa"].token_file
    assert token_file is not None
    token = sandbox.api_key
    link = tmp_path / "provider.key"
    link.symlink_to(token_file)
    dotted = tmp_path / "elsewhere" / ".." / "state" / "request-state.key"
    state = _state(sandbox)
    secrets = (WOP_KEY, STATE_KEY, token)
    with anyio.fail_after(30):
        async with Client(build_server(settings), mode=mode) as client:
            threads_before = len(state.threads)
            spec = await client.call_tool(
                "threads_create", {"path": str(tmp_path / "creds" / ".." / "creds" / "token.json")}
            )
            assert "token file of profile 'oa'" in _refusal(spec, *secrets)
            assert len(state.threads) == threads_before, "a refused spec file created a thread"

            created = await client.call_tool("threads_create", {"spec": {"workflow": "calendar-hil-chat"}})
            thread_id = (created.structured_content or {})["thread_id"]
            thread = state.threads[thread_id]
            runs_before = len(state.runs)
            refused: list[tuple[str, dict[str, Any], str]] = [
                (
                    "threads_send",
                    {"secrets_from_env": {"providers.openai.api_key": "OA_POLICY_WOP_KEY"}},
                    "OA_POLICY_WOP_KEY",
                ),
                ("threads_ask", {"secrets_from_env": {"k": "RUNBRIDGE_STATE_KEY"}}, "RUNBRIDGE_STATE_KEY"),
                ("threads_send", {"secrets_from_file": {"providers.openai.api_key": str(link)}}, str(link)),
                ("threads_ask", {"secrets_from_file": {"k": str(dotted)}}, "state directory"),
            ]
            for tool, refs, named in refused:
                result = await client.call_tool(tool, {"thread_id": thread_id, "user_prompt": "hi", **refs})
                assert named in _refusal(result, *secrets)
            assert len(state.runs) == runs_before, "a refused reference started a run"
            assert thread.run_ids == []

            for refs, named in [
                ({"secrets_from_env": {"TAVILY_API_KEY": "OA_POLICY_WOP_KEY"}}, "OA_POLICY_WOP_KEY"),
                ({"secrets_from_file": {"TAVILY_API_KEY": str(link)}}, "resolves to"),
                ({"secrets_from_env": {"a": "OA_POLICY_OPENAI"}, "secrets_from_file": {"b": str(dotted)}}, "state"),
            ]:
                result = await client.call_tool("threads_set_secrets", {"thread_id": thread_id, **refs})
                assert named in _refusal(result, *secrets, OPENAI)
            assert thread.secrets == {}, "a refused reference stored a secret"

            # Everything else still works as before: a reference to a provider key is sent.
            stored = await client.call_tool(
                "threads_set_secrets",
                {"thread_id": thread_id, "secrets_from_env": {"TAVILY_API_KEY": "OA_POLICY_OPENAI"}},
            )
    assert not stored.is_error, _text(stored)
    assert thread.secrets == {"TAVILY_API_KEY": OPENAI}


async def test_a_profiles_allow_lists_narrow_the_references_a_call_may_use(
    settings: Settings, sandbox: SandboxServer, tmp_path: Path
) -> None:
    allowed = tmp_path / "secrets"
    allowed.mkdir()
    inside = allowed / "openai.key"
    outside = tmp_path / "outside.key"
    for file in (inside, outside):
        file.write_text(OPENAI, encoding="utf-8")
        os.chmod(file, 0o600)
    oa = settings.profiles["oa"].model_copy(
        update={"allowed_secret_env": ["PROVIDER_*"], "allowed_secret_dirs": [allowed]}
    )
    narrowed = settings.model_copy(update={"profiles": {**settings.profiles, "oa": oa}})
    state = _state(sandbox)
    with anyio.fail_after(30):
        async with Client(build_server(narrowed)) as client:
            created = await client.call_tool("threads_create", {"spec": {"workflow": "chat"}})
            thread = state.threads[(created.structured_content or {})["thread_id"]]
            by_name = await client.call_tool(
                "threads_set_secrets", {"thread_id": thread.thread_id, "secrets_from_env": {"k": "OA_POLICY_OPENAI"}}
            )
            assert "allowed_secret_env: PROVIDER_*" in _refusal(by_name, OPENAI)
            by_file = await client.call_tool(
                "threads_set_secrets",
                {"thread_id": thread.thread_id, "secrets_from_file": {"k": str(allowed / ".." / "outside.key")}},
            )
            assert "allowed_secret_dirs" in _refusal(by_file, OPENAI)
            assert thread.secrets == {}
            ok = await client.call_tool(
                "threads_set_secrets", {"thread_id": thread.thread_id, "secrets_from_file": {"k": str(inside)}}
            )
    assert not ok.is_error, _text(ok)
    assert thread.secrets == {"k": OPENAI}
