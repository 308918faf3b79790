"""orchagent threads end to end through the official MCP client, in the 2025 (live elicitation) and 2026 (input
required) eras: the sign-in gate as a URL elicitation, the tool approval as a form, the fallback without
elicitation, threads_ask, history pages, approvals, and the run tools on orchagent runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from itertools import pairwise
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import ElicitRequestFormParams, ElicitRequestURLParams

from runbridge.core import Profile, Settings
from runbridge.http import write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import EXAMPLE_SPECS

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
APPROVE_BOTH = (("accept", None), ("accept", {"decision": "approve"}))
REPLY = "Your meeting is booked for Tuesday 5 May at 10:00 UTC (30 minutes, Project sync)."


@pytest.fixture(scope="module")
def orchagent() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent", keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "composio_calendar_hil_chat.json"
    path.write_text(json.dumps(EXAMPLE_SPECS["calendar_hil_chat"]), encoding="utf-8")
    return path


@pytest.fixture
def oa_settings(orchagent: SandboxServer, tmp_path: Path) -> Settings:
    token_file = tmp_path / "token.json"
    write_token_file(token_file, orchagent.api_key)
    profile = Profile(
        name="oa",
        family="orchagent",
        base_url=orchagent.base_url,
        token_file=token_file,
        options={"status_idle_seconds": 0.1},
        allowed_spec_dirs=[tmp_path],  # where the tests' workflow spec files are
    )
    return Settings(
        profiles={"oa": profile},
        state_path=":memory:",
        wait_seconds=15,
        heartbeat_seconds=5,
        progress_interval_seconds=0,
    )


@pytest.fixture
def oa_connect(oa_settings: Settings) -> Callable[..., Any]:
    from runbridge.server import build_server

    @asynccontextmanager
    async def _connect(mode: str = "auto", human: Any = None) -> AsyncIterator[Client]:
        async with Client(build_server(oa_settings), mode=mode, elicitation_callback=human) as client:  # type: ignore[arg-type]
            yield client

    return _connect


def _ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    assert result.structured_content is not None
    return result.structured_content


async def _thread(client: Client, spec_file: Path) -> str:
    created = _ok(await client.call_tool("threads_create", {"path": str(spec_file)}))
    assert created["source"] == str(spec_file)
    return str(created["thread_id"])


@pytest.mark.parametrize("mode", ERAS)
async def test_sign_in_is_a_url_elicitation_and_the_tool_approval_a_form_then_the_run_completes(
    mode: str, oa_connect: Any, human_factory: Any, progress: Any, orchagent: SandboxServer, spec_file: Path
) -> None:
    human = human_factory(*APPROVE_BOTH)
    before = orchagent.stats()["runs_created"]
    with anyio.fail_after(30):
        async with oa_connect(mode=mode, human=human) as client:
            thread_id = await _thread(client, spec_file)
            result = await client.call_tool(
                "threads_send",
                {"thread_id": thread_id, "user_prompt": "Book a sync with Ana on Tuesday"},
                progress_callback=progress,
            )
    report = _ok(result)
    assert report["status"] == "completed", {k: v for k, v in report.items() if k != "waiting_for"}
    assert report["outputs"] == REPLY
    assert report["target_id"] == thread_id
    assert orchagent.stats()["runs_created"] == before + 1
    sign_in, approval = human.questions
    assert isinstance(sign_in, ElicitRequestURLParams)
    assert sign_in.url.startswith(f"{orchagent.base_url}/oauth/authorize?")
    assert "Google Calendar needs authorization." in sign_in.message
    assert "Open the link" in sign_in.message
    assert isinstance(approval, ElicitRequestFormParams)
    assert "create a calendar event" in approval.message
    assert "GOOGLECALENDAR_CREATE_EVENT" in approval.message
    decision = approval.requested_schema["properties"]["decision"]
    assert [o["const"] for o in decision["oneOf"]] == ["approve", "deny"]
    assert approval.requested_schema["required"] == ["decision"]
    values = [p for p, _, _ in progress.updates]
    assert all(a < b for a, b in pairwise(values)), "progress must strictly increase"
    assert any(m and "waiting for a human" in m for _, _, m in progress.updates)


@pytest.mark.parametrize("mode", ERAS)
async def test_threads_ask_follows_the_run_through_both_gates_and_returns_the_reply(
    mode: str, oa_connect: Any, human_factory: Any, spec_file: Path
) -> None:
    human = human_factory(*APPROVE_BOTH)
    with anyio.fail_after(30):
        async with oa_connect(mode=mode, human=human) as client:
            thread_id = await _thread(client, spec_file)
            asked = _ok(await client.call_tool("threads_ask", {"thread_id": thread_id, "user_prompt": "Book it"}))
            history = _ok(await client.call_tool("threads_history", {"thread_id": thread_id}))
    assert asked["done"] is True
    assert asked["reply"] == REPLY
    assert asked["report"]["status"] == "completed"
    assert len(human.questions) == 2
    assert [(i["role"], i["content"]) for i in history["items"]] == [("user", "Book it"), ("assistant", REPLY)]


@pytest.mark.parametrize("mode", ERAS)
async def test_without_elicitation_the_result_carries_the_sign_in_link_and_gates_respond_continues(
    mode: str, oa_connect: Any, spec_file: Path
) -> None:
    with anyio.fail_after(30):
        async with oa_connect(mode=mode, human=None) as client:
            thread_id = await _thread(client, spec_file)
            first = _ok(await client.call_tool("threads_ask", {"thread_id": thread_id, "user_prompt": "Book it"}))
            report = first["report"]
            gate = report["waiting_for"]
            second = _ok(await client.call_tool("gates_respond", {"gate_id": gate["gate_id"], "decision": "accept"}))
            tool_gate = second["waiting_for"]
            listed = _ok(await client.call_tool("gates_list", {}))
            third = _ok(
                await client.call_tool(
                    "gates_respond",
                    {"gate_id": tool_gate["gate_id"], "decision": "accept", "values": {"decision": "approve"}},
                )
            )
    assert (first["done"], first.get("reply")) == (False, None)
    assert report["status"] == "waiting"
    assert gate["kind"] == "auth"
    assert gate["redirect_url"].startswith("http://127.0.0.1:")
    assert gate["fields"] == []
    assert "give them the sign-in link" in gate["how_to_answer"]
    assert second["status"] == "waiting"
    assert tool_gate["kind"] == "tool_approval"
    assert tool_gate["context"]["tool"] == "GOOGLECALENDAR_CREATE_EVENT"
    assert [g["gate_id"] for g in listed["gates"]] == [tool_gate["gate_id"]]
    assert third["status"] == "completed"
    assert third["outputs"] == REPLY


@pytest.mark.parametrize("mode", ERAS)
async def test_a_denied_tool_resumes_the_run_without_it(mode: str, oa_connect: Any, human_factory: Any) -> None:
    human = human_factory(("accept", {"decision": "deny"}))
    with anyio.fail_after(30):
        async with oa_connect(mode=mode, human=human) as client:
            thread = _ok(await client.call_tool("threads_create", {"spec": EXAMPLE_SPECS["tool_approval_chat"]}))
            report = _ok(
                await client.call_tool("threads_send", {"thread_id": thread["thread_id"], "user_prompt": "search"})
            )
    assert report["decision"] == "accepted"
    assert report["status"] == "failed"
    assert "rejected" in report["error"]


async def test_the_run_tools_read_orchagent_runs_and_history_pages_back(oa_connect: Any) -> None:
    with anyio.fail_after(30):
        async with oa_connect(mode="legacy") as client:
            thread_id = _ok(await client.call_tool("threads_create", {"spec": {"workflow": "chat"}}))["thread_id"]
            runs = []
            for prompt in ("one", "two", "three"):
                sent = _ok(await client.call_tool("threads_send", {"thread_id": thread_id, "user_prompt": prompt}))
                runs.append(sent["run_id"])
            snapshot = _ok(await client.call_tool("runs_get", {"run_id": runs[0]}))
            events = _ok(await client.call_tool("runs_events", {"run_id": runs[0], "limit": 3}))
            rest = _ok(await client.call_tool("runs_events", {"run_id": runs[0], "cursor": events["next_cursor"]}))
            watched = _ok(await client.call_tool("runs_watch", {"run_id": runs[1], "cursor": "2"}))
            pages = []
            cursor = None
            while True:
                args: dict[str, Any] = {"thread_id": thread_id, "limit": 2}
                if cursor:
                    args["cursor"] = cursor
                page = _ok(await client.call_tool("threads_history", args))
                pages.append([i["content"] for i in page["items"]])
                cursor = page.get("next_cursor")
                if not cursor:
                    break
            listed = _ok(await client.call_tool("runs_list", {}))
    assert snapshot["run"]["status"] == "completed"
    assert snapshot["run"]["outputs"] == "You said: one"
    assert snapshot["run"]["target_id"] == thread_id
    assert [e["seq"] for e in events["events"]] == ["1", "2", "3"]
    assert rest["ended"] is True
    assert rest["events"][0]["seq"] == "4"
    assert watched["status"] == "completed"
    assert watched["outputs"] == "You said: two"
    assert pages[:3] == [["three", "You said: three"], ["two", "You said: two"], ["one", "You said: one"]]
    assert all(page == [] for page in pages[3:])
    assert {r["run_id"] for r in listed["runs"]} >= set(runs)


async def test_approvals_tools_pre_approve_a_tool_and_clear_them(oa_connect: Any, human_factory: Any) -> None:
    human = human_factory()  # any question would be dismissed: none is expected
    with anyio.fail_after(30):
        async with oa_connect(mode="legacy", human=human) as client:
            tools = {t.name: t for t in (await client.list_tools()).tools}
            thread = _ok(await client.call_tool("threads_create", {"spec": EXAMPLE_SPECS["tool_approval_chat"]}))
            sent = _ok(
                await client.call_tool(
                    "threads_send", {"thread_id": thread["thread_id"], "user_prompt": "x", "wait_seconds": 0}
                )
            )
            approved = _ok(
                await client.call_tool(
                    "approvals_approve", {"run_id": sent["run_id"], "tool": "tavily_search", "args_keys": ["query"]}
                )
            )
            done = _ok(await client.call_tool("runs_watch", {"run_id": sent["run_id"]}))
            cleared = _ok(await client.call_tool("approvals_clear", {"all": True}))
            both = await client.call_tool("approvals_clear", {"all": True, "user_id": "u1"})
    assert approved["server"] == "mcp"
    assert done["status"] == "completed"
    assert human.questions == []
    assert cleared["cleared"] >= 1
    assert both.is_error
    clear_hints = tools["approvals_clear"].annotations
    assert clear_hints is not None
    assert clear_hints.destructive_hint is True
    assert tools["threads_history"].annotations.read_only_hint is True  # type: ignore[union-attr]
    assert {"threads_create", "threads_send", "threads_ask", "threads_set_secrets", "approvals_approve"} <= set(tools)
    assert "password" not in json.dumps([t.input_schema for t in tools.values()]).lower()


async def test_threads_create_explains_what_is_wrong_with_a_path(oa_connect: Any, tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    (tmp_path / "list.json").write_text("[1]", encoding="utf-8")
    (tmp_path / "spec.yaml").write_text("workflow: chat", encoding="utf-8")
    cases = {
        "spec.yaml": "does not name a .json file",
        "missing.json": "There is no file at that path",
        "bad.json": "is not valid JSON (line 1",
        "list.json": "must hold one JSON object",
    }
    async with oa_connect(mode="legacy") as client:
        texts = {}
        for name in cases:
            result = await client.call_tool("threads_create", {"path": str(tmp_path / name)})
            assert result.is_error, name
            texts[name] = result.content[0].text  # type: ignore[union-attr]
        neither = await client.call_tool("threads_create", {})
    for name, expected in cases.items():
        assert expected in texts[name], texts[name]
    assert neither.is_error


async def test_a_running_orchagent_runs_next_never_suggests_runs_cancel(oa_connect: Any, spec_file: Path) -> None:
    # The server has no cancel, so a handle to a run still going offers runs_watch and nothing that would refuse.
    with anyio.fail_after(30):
        async with oa_connect(mode="legacy", human=None) as client:
            thread_id = await _thread(client, spec_file)
            handle = _ok(
                await client.call_tool(
                    "threads_send", {"thread_id": thread_id, "user_prompt": "Book it", "wait_seconds": 0}
                )
            )
    assert handle["done"] is False, handle
    assert "runs_watch" in handle["next"]
    assert "runs_cancel" not in handle["next"]
