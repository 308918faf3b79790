"""The orchagent.io platform end to end, through the official MCP client in the 2025 (live elicitation) and 2026
(input required) eras: the catalogue, an agent call with live progress, a precondition said as a tool error,
deleting an agent confirmed by the person (accepted and declined), and `confirm: true` for a client that cannot
ask."""

from __future__ import annotations

import json
from collections.abc import Iterator
from itertools import pairwise
from typing import Any

import anyio
import httpx2
import pytest
from tests.e2e.conftest import ok, one_profile

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
KEY_ENV = "RUNBRIDGE_E2E_PLATFORM_KEY"


@pytest.fixture
def oa() -> Iterator[SandboxServer]:
    with SandboxServer("platform", speed=20.0) as server:  # a managed-loop turn takes 20 ms
        yield server


@pytest.fixture
def settings(oa: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The conftest's `connect` builds runbridge on these: one platform profile on the platform sandbox."""
    monkeypatch.setenv(KEY_ENV, oa.api_key)
    profile = Profile(name="oa", family="platform", base_url=oa.base_url, api_key_env=KEY_ENV)
    return one_profile(profile)


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def _own_agent(oa: SandboxServer, name: str) -> dict[str, Any]:
    agents = httpx2.get(f"{oa.base_url}/agents", headers=oa.headers).json()
    return next(a for a in agents if a["name"] == name)


async def test_the_catalogue_and_an_agent_in_detail(connect: Any, oa: SandboxServer) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            page = ok(await client.call_tool("agents_list", {"sort": "stars", "limit": 3}))
            mine = ok(await client.call_tool("agents_list", {"scope": "workspace", "search": "slack"}))
            agent = ok(await client.call_tool("agents_get", {"agent_id": "acme/invoice-scanner"}))["agent"]
            targets = ok(await client.call_tool("targets_list", {"limit": 100}))
    assert [a["id"] for a in page["agents"]] == ["joe/leak-finder", "joe/translator", "acme/summarizer"]
    assert page["next_cursor"] == "3"
    assert [a["name"] for a in mine["agents"]] == ["slack-notifier"]
    assert agent["output_schema"]["required"] == ["vendor", "amount"]
    assert agent["details"]["download"]["code"] == "PAID_AGENT_SERVER_ONLY"
    assert "acme/repo-auditor@v1" in {t["id"] for t in targets["targets"]}
    assert oa.api_key not in json.dumps([page, mine, agent, targets])


@pytest.mark.parametrize("mode", ERAS)
async def test_an_agent_call_streams_its_progress_and_ends_with_the_output(
    mode: str, connect: Any, progress: Any, oa: SandboxServer
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode) as client:
            result = await client.call_tool(
                "agents_call",
                {"agent_id": "acme/repo-auditor", "input": {"repo": "acme/api"}},
                progress_callback=progress,
            )
            report = ok(result)
            snapshot = ok(await client.call_tool("runs_get", {"run_id": report["run_id"]}))
            listed = ok(await client.call_tool("runs_list", {}))
    assert report["status"] == "completed", report
    assert report["outputs"]["summary"] == "Audited acme/api"
    assert report["target_id"] == "acme/repo-auditor@v1"
    assert report["usage"]["total_tokens"] > 0
    logs = httpx2.get(f"{oa.base_url}/workspaces/ws_acme_personal/runs/{report['run_id']}/logs", headers=oa.headers)
    assert logs.status_code == 200, "the run is the workspace run X-Run-Id named"
    assert logs.json()["output_data"] == report["outputs"]
    assert snapshot["run"]["status"] == "completed"
    assert report["run_id"] in {r["run_id"] for r in listed["runs"]}
    messages = [m or "" for _, _, m in progress.updates]
    assert any("calling read_file: README.md" in m for m in messages), messages
    assert any("calling bash: grep -rn token ." in m for m in messages), messages
    values = [p for p, _, _ in progress.updates]
    assert all(a < b for a, b in pairwise(values)), "progress must strictly increase"
    assert {t for _, t, _ in progress.updates if t is not None} == {3.0}, "a managed loop's turns are its steps"


async def test_a_precondition_is_a_tool_error_saying_what_to_do(connect: Any, oa: SandboxServer) -> None:
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            missing = await client.call_tool(
                "agents_call", {"agent_id": "acme/slack-notifier", "input": {"message": "hi"}}
            )
            smuggled = await client.call_tool(
                "agents_call",
                {"agent_id": "acme/byok-writer", "input": {"topic": "x", "llm_credentials": {"api_key": "sk-x"}}},
            )
    assert missing.is_error
    assert "a person must add them to the workspace" in _text(missing)
    assert "SLACK_TOKEN" in _text(missing)
    assert smuggled.is_error
    assert "llm_credentials never travel in a tool call" in _text(smuggled)
    assert "sk-x" not in _text(smuggled)


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_deleting_an_agent_asks_the_person_first(
    mode: str, answer: str, connect: Any, human_factory: Any, oa: SandboxServer
) -> None:
    agent = _own_agent(oa, "flaky")
    content = {"confirm": True} if answer == "accept" else None
    human = human_factory((answer, content))
    with anyio.fail_after(20):
        async with connect(mode=mode, human=human) as client:
            result = ok(await client.call_tool("agents_delete", {"agent_id": agent["id"]}))
    (question,) = human.questions
    assert "Delete agent" in question.message
    assert "Agent flaky has 0 stars and 0 forks" in question.message
    still_there = any(a["id"] == agent["id"] for a in httpx2.get(f"{oa.base_url}/agents", headers=oa.headers).json())
    if answer == "accept":
        assert result["deleted"] is True
        assert not still_there
    else:
        assert result["deleted"] is False
        assert "declined" in result["note"]
        assert still_there


async def test_without_elicitation_deleting_needs_confirm_true(connect: Any, oa: SandboxServer) -> None:
    agent = _own_agent(oa, "nightly-report")
    with anyio.fail_after(20):
        async with connect(mode="legacy", human=None) as client:
            refused = await client.call_tool("agents_delete", {"agent_id": agent["id"], "confirm": False})
            kept = any(a["id"] == agent["id"] for a in httpx2.get(f"{oa.base_url}/agents", headers=oa.headers).json())
            done = ok(await client.call_tool("agents_delete", {"agent_id": agent["id"], "confirm": True}))
    assert refused.is_error
    assert "call again with confirm: true" in _text(refused)
    assert "Agent nightly-report has" in _text(refused)
    assert kept
    assert done["deleted"] is True


async def test_a_long_call_hands_back_a_handle_and_runs_watch_follows_it_to_its_output(
    connect: Any, progress: Any
) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            handle = ok(
                await client.call_tool(
                    "agents_call",
                    {"agent_id": "acme/repo-auditor", "input": {"repo": "big", "turns": 40}, "wait_seconds": 0.3},
                )
            )
            done = ok(await client.call_tool("runs_watch", {"run_id": handle["run_id"]}, progress_callback=progress))
            events: list[dict[str, Any]] = []
            cursor: str | None = None
            for _ in range(20):  # pages, as long as the result budget cuts them
                args = {"run_id": handle["run_id"], "limit": 500, **({"cursor": cursor} if cursor else {})}
                page = ok(await client.call_tool("runs_events", args))
                events += page["events"]
                cursor = page.get("next_cursor")
                if page["ended"] or not cursor:
                    break
    assert handle["done"] is False
    assert "runs_watch" in handle["next"]
    assert done["status"] == "completed"
    assert done["outputs"]["summary"] == "Audited big"
    assert handle["events_seen"] + done["events_seen"] == 1 + 3 * 40 + 2, "none lost or repeated"
    assert [e["seq"] for e in events] == [str(i) for i in range(1, 1 + 3 * 40 + 2 + 1)]


async def test_registering_changing_and_forking_agents(connect: Any, oa: SandboxServer) -> None:
    """agents_create registers an agent in the workspace, agents_update changes what may change and refuses what
    may not before anything is sent, agents_fork copies a public source-available agent; the platform keeps each."""
    spec = {"name": "haiku", "type": "prompt", "description": "Writes haiku.", "prompt": "Write a haiku."}
    with anyio.fail_after(20):
        async with connect(mode="legacy") as client:
            created = ok(await client.call_tool("agents_create", {"spec": spec}))["agent"]
            updated = ok(
                await client.call_tool(
                    "agents_update", {"agent_id": created["id"], "changes": {"description": "Better haiku."}}
                )
            )["agent"]
            immutable = await client.call_tool(
                "agents_update", {"agent_id": created["id"], "changes": {"run_mode": "always_on"}}
            )
            fork = ok(await client.call_tool("agents_fork", {"agent_id": "joe/leak-finder", "new_name": "my-finder"}))
            private = await client.call_tool("agents_fork", {"agent_id": "acme/invoice-scanner@v1"})
    assert created["name"] == "haiku"
    assert created["version"] == "v1"
    assert updated["description"] == "Better haiku."
    assert _own_agent(oa, "haiku")["description"] == "Better haiku.", "the platform keeps the change"
    assert immutable.is_error
    assert "publish a new version" in _text(immutable)
    assert fork["agent"]["name"] == "my-finder"
    copy = _own_agent(oa, "my-finder")
    assert copy["id"] == fork["agent"]["id"]
    assert copy["workspace_id"] == "ws_acme_personal"
    assert _own_agent(oa, "haiku")["id"] == created["id"]
    assert private.is_error
    assert "Only public, source-available agents" in _text(private)
