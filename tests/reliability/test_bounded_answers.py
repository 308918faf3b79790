"""Bad input gets a bounded, clear answer, through `runbridge serve --http` and the official client in both eras:
every error is at most 2,000 characters and says what it cut; a NUL byte, an overflowing number or a malformed
cursor in any argument is a tool error naming the argument (never a bare "Error executing tool" or a protocol
error); and nothing a client sent puts a stack trace on the server's stderr."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError
from surface_harness import (
    ERAS,
    assert_curated,
    child_env,
    profile_for,
    runbridge_http,
    structured,
    text_of,
    write_config,
)

from runbridge.sandbox import DEFAULT_API_KEY, SandboxServer

pytestmark = pytest.mark.anyio

MAX_ERROR_CHARS = 2_000
HUGE = "x" * 100_000
NUL = "a\x00b"
OVERFLOW = 10**30
GARBLED = "!!not-a-cursor-runbridge-gave-out!!"


@dataclass
class Surface:
    client: Client
    run_id: str
    thread_id: str

    async def refusal(self, tool: str, arguments: dict[str, Any]) -> str:
        """The text of the tool error `tool` answers with (a protocol error fails the test)."""
        with anyio.fail_after(20):
            result = await self.client.call_tool(tool, arguments)
        text = text_of(result)
        assert result.is_error, f"{tool} accepted {str(arguments)[:200]}"
        assert_curated(text, DEFAULT_API_KEY)
        assert len(text) <= MAX_ERROR_CHARS, f"{tool} answered with {len(text)} characters"
        assert text.strip() != f"Error executing tool {tool}", f"{tool} crashed on {str(arguments)[:200]}"
        return text


@asynccontextmanager
async def surface(tmp_path: Path, make_sandbox: Callable[..., SandboxServer], era: str) -> AsyncIterator[Surface]:
    wop, oa = make_sandbox("openwop"), make_sandbox("orchagent")
    key_env = "RB_BOUNDED_KEY"
    profiles = {
        "wop": profile_for("openwop", wop, "wop", key_env),
        "oa": profile_for("orchagent", oa, "oa", key_env, allowed_secret_dirs=[str(tmp_path)]),
    }
    toolsets = ["profiles", "targets", "runs", "gates", "threads"]
    config = write_config(tmp_path / "runbridge.toml", profiles, default_profile="wop", toolsets=toolsets)
    env = child_env(**{key_env: DEFAULT_API_KEY}, RUNBRIDGE_STATE_PATH=str(tmp_path / "state.db"))
    async with runbridge_http(config, env=env) as served, Client(served.url, mode=era) as client:
        run = structured(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
        thread = structured(await client.call_tool("threads_create", {"spec": {"workflow": "chat"}, "profile": "oa"}))
        yield Surface(client, run["run_id"], thread["thread_id"])
        log = served.log()
    assert "Traceback" not in log, log[-3000:]
    assert 'File "' not in log, log[-3000:]
    assert HUGE not in log, "a 100,000-character argument was logged whole"


@pytest.mark.parametrize("era", ERAS)
async def test_every_error_is_bounded_and_says_what_it_cut(
    tmp_path: Path, make_sandbox: Callable[..., SandboxServer], era: str
) -> None:
    async with surface(tmp_path, make_sandbox, era) as s:
        echoed = await s.refusal(
            "threads_set_secrets", {"thread_id": s.thread_id, "secrets_from_env": {HUGE: "Y"}, "profile": "oa"}
        )
        assert "more characters) …" in echoed, echoed[:300]
        cut = int(echoed.split("(cut: ")[1].split(" ")[0])
        assert cut > 90_000, cut
        assert echoed.rstrip().endswith("."), echoed[-200:]  # the end (what to do) is kept, not only the start
        profile = await s.refusal("runs_list", {"profile": HUGE})
        assert "Configured profiles: oa, wop" in profile
        # An unknown tool's name is echoed by the SDK, in a tool error or a protocol error: bounded either way.
        try:
            unknown = text_of(await s.client.call_tool(HUGE, {}))
        except MCPError as exc:
            unknown = exc.message
        assert len(unknown) <= MAX_ERROR_CHARS, len(unknown)
        # A protocol error of another request that echoes what was asked for is bounded the same way.
        with pytest.raises(MCPError) as caught:
            await s.client.read_resource(f"runbridge://wop/runs/{HUGE}")
        assert len(caught.value.message) <= MAX_ERROR_CHARS, len(caught.value.message)
        assert "(cut: " in caught.value.message


@pytest.mark.parametrize("era", ERAS)
async def test_nul_bytes_overflowing_numbers_and_malformed_cursors_are_clear_tool_errors(
    tmp_path: Path, make_sandbox: Callable[..., SandboxServer], era: str
) -> None:
    async with surface(tmp_path, make_sandbox, era) as s:
        nul = {
            "threads_create": {"path": f"{tmp_path}/{NUL}.json", "profile": "oa"},
            "threads_set_secrets": {"thread_id": s.thread_id, "secrets_from_file": {"k": NUL}, "profile": "oa"},
            "runs_get": {"run_id": NUL},
            "runs_start": {"target_id": "quick-demo", "inputs": {"note": NUL}},
            "runs_events": {"run_id": s.run_id, "cursor": NUL},
        }
        for tool, arguments in nul.items():
            text = await s.refusal(tool, arguments)
            assert "holds a NUL byte" in text, f"{tool}: {text}"
            assert "Nothing was done" in text, f"{tool}: {text}"
        overflowing = {
            "runs_fork": ({"run_id": s.run_id, "from_seq": OVERFLOW}, "`from_seq` is too large a number"),
            "runs_start": ({"target_id": "quick-demo", "inputs": {"n": [OVERFLOW]}}, "`inputs.n[0]` is too large"),
            "runs_list": ({"limit": OVERFLOW}, "`limit`"),
            "runs_events": ({"run_id": s.run_id, "limit": -OVERFLOW}, "`limit`"),
        }
        for tool, (arguments, said) in overflowing.items():
            text = await s.refusal(tool, arguments)
            assert said in text, f"{tool}: {text}"
        cursors = {
            "runs_list": {},
            "runs_events": {"run_id": s.run_id},
            "runs_watch": {"run_id": s.run_id},
            "gates_list": {},
            "targets_list": {},
            "threads_history": {"thread_id": s.thread_id, "profile": "oa"},
        }
        for tool, arguments in cursors.items():
            text = await s.refusal(tool, {**arguments, "cursor": GARBLED})
            assert "cursor" in text.lower(), f"{tool}: {text}"
            assert tool in text, f"{tool} does not say which tool to call again: {text}"
