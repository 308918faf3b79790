"""orq.ai end to end, through the official MCP client in the 2025 (live elicitation) and 2026 (input required) eras
and without elicitation: an agent call with progress and usage, the client-tool-call gate answered by a person and
the task continued as the same run, a tool review decided in orq.ai (never by the person through runbridge), the
run tools and targets on orq tasks, and deleting an agent with confirmation."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from tests.e2e.conftest import ok, one_profile

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

ERAS = ["legacy", "auto"]
KEY_ENV = "RUNBRIDGE_E2E_ORQ_KEY"
SENTINEL = "orq-SENTINEL-0f1e2d3c4b5a69788796a5b4c3d2e1f0"


@pytest.fixture(scope="module")
def orq() -> Iterator[SandboxServer]:
    with SandboxServer("orq", api_key=SENTINEL, keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def settings(orq: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The conftest's `connect` builds runbridge on these: one orq profile on the orq sandbox."""
    monkeypatch.setenv(KEY_ENV, orq.api_key)
    profile = Profile(name="orq", family="orq", base_url=orq.base_url, api_key_env=KEY_ENV)
    return one_profile(profile)


def _text(result: Any) -> str:
    return " ".join(getattr(c, "text", "") for c in result.content)


def _agent(orq: SandboxServer, key: str) -> None:
    body = {
        "key": key,
        "role": "Temporary",
        "description": "made for a test",
        "instructions": "Echo.",
        "path": "Default/agents",
        "model": "openai/gpt-4o-mini",
        "settings": {},
    }
    response = httpx2.post(f"{orq.base_url}/v2/agents", json=body, headers=orq.headers)
    assert response.status_code == 201, response.text


def _exists(orq: SandboxServer, key: str) -> bool:
    return httpx2.get(f"{orq.base_url}/v2/agents/{key}", headers=orq.headers).status_code == 200


@pytest.mark.parametrize("mode", ERAS)
async def test_an_agent_call_with_progress_usage_and_the_run_tools(
    mode: str, connect: Any, human_factory: Any, progress: Any
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human_factory()) as client:
            targets = ok(await client.call_tool("targets_list", {}))
            listed = ok(await client.call_tool("agents_list", {"limit": 50}))
            report = ok(
                await client.call_tool(
                    "agents_call", {"agent_id": "triage-lead", "message": "my invoices"}, progress_callback=progress
                )
            )
            snapshot = ok(await client.call_tool("runs_get", {"run_id": report["run_id"]}))
            events = ok(await client.call_tool("runs_events", {"run_id": report["run_id"], "limit": 100}))
            usage = ok(await client.call_tool("usage_report", {}))
    assert "triage-lead" in {t["id"] for t in targets["targets"]}
    assert {"echo-agent", "weather-agent", "payments-agent"} <= {a["id"] for a in listed["agents"]}
    assert report["status"] == "completed", report
    assert report["outputs"]["text"] == "billing-specialist: you have 2 open invoices."
    assert report["usage"]["total_tokens"] == 300
    assert report["usage"]["cost_usd"] == pytest.approx(0.0012)
    messages = progress.messages
    assert "handed off to billing-specialist" in " | ".join(messages)
    assert any("calling Invoice lookup" in m for m in messages)
    assert snapshot["run"]["status"] == "completed"
    kinds = [e["kind"] for e in events["events"]]
    assert kinds[0] == "run.started"
    assert kinds[-1] == "run.completed"
    assert "decision" in kinds
    assert usage["total"]["cost_usd"] > 0


@pytest.mark.parametrize("mode", ERAS)
async def test_a_client_tool_call_is_asked_and_the_task_continues_as_the_same_run(
    mode: str, connect: Any, human_factory: Any, orq: SandboxServer
) -> None:
    human = human_factory(("accept", {"result": "sunny, 21 C"}))
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            report = ok(await client.call_tool("agents_call", {"agent_id": "weather-agent", "message": "Lisbon"}))
            events = ok(await client.call_tool("runs_events", {"run_id": report["run_id"], "limit": 100}))
    assert report["status"] == "completed", report
    assert report["outputs"]["text"] == "The tool said: sunny, 21 C"
    (question,) = human.questions
    assert "get_weather" in question.message
    assert "Lisbon" in question.message
    assert question.requested_schema["required"] == ["result"]  # type: ignore[union-attr]
    kinds = [e["kind"] for e in events["events"]]
    assert kinds.count("run.completed") == 1
    assert "gate.resolved" in kinds
    assert "run.resumed" in kinds  # the continuation's stream, read into the same run
    assert report["usage"]["turns"] == 2


@pytest.mark.parametrize("mode", ERAS)
async def test_without_elicitation_the_tool_call_waits_for_gates_respond(mode: str, connect: Any) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode, human=None) as client:
            first = ok(await client.call_tool("agents_call", {"agent_id": "weather-agent", "message": "Oslo"}))
            assert first["status"] == "waiting"
            gate = first["waiting_for"]
            assert gate["kind"] == "tool_result"
            assert [f["name"] for f in gate["fields"]] == ["result"]
            assert "A human must decide this, not you" in gate["how_to_answer"]
            listed = ok(await client.call_tool("gates_list", {}))
            assert gate["gate_id"] in {g["gate_id"] for g in listed["gates"]}
            answer = {"gate_id": gate["gate_id"], "decision": "accept", "values": {"result": '{"temp_c": -3}'}}
            done = ok(await client.call_tool("gates_respond", answer))
    assert done["status"] == "completed", done
    assert done["outputs"]["text"] == 'The tool said: {"temp_c": -3}'


@pytest.mark.parametrize("mode", [*ERAS, "no-elicitation"])
async def test_a_tool_review_is_decided_in_orq_ai_and_the_run_goes_on(
    mode: str, connect: Any, human_factory: Any, orq: SandboxServer
) -> None:
    human = None if mode == "no-elicitation" else human_factory()
    with anyio.fail_after(40):
        async with connect(mode="legacy" if mode == "no-elicitation" else mode, human=human) as client:
            first = ok(
                await client.call_tool(
                    "runs_start", {"target_id": "payments-agent", "message": "refund it", "wait_seconds": 1}
                )
            )
            run_id = first["run_id"]
            snapshot = ok(await client.call_tool("runs_get", {"run_id": run_id}))
            gates = ok(await client.call_tool("gates_list", {}))
            review = next(g for g in gates["gates"] if g["run_id"] == run_id)
            refused = await client.call_tool(
                "gates_respond", {"gate_id": review["gate_id"], "decision": "accept", "values": {"decision": "approve"}}
            )
            watched: dict[str, Any] = {}
            during: dict[str, Any] = {}

            async def watch() -> None:
                watched.update(ok(await client.call_tool("runs_watch", {"run_id": run_id, "wait_seconds": 15})))

            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                async with httpx2.AsyncClient(base_url=orq.base_url) as ui:
                    decided = await ui.post(f"/_sandbox/orq/reviews/{run_id}", json={"review": "approved"})
                    assert decided.status_code == 200
                while run_id in {g["run_id"] for g in ok(await client.call_tool("gates_list", {}))["gates"]}:
                    await anyio.sleep(0.05)  # until the watch reads action_reviewed
                during.update(ok(await client.call_tool("runs_get", {"run_id": run_id})))
            done = watched
            after = ok(await client.call_tool("gates_list", {}))
    assert first["status"] in ("running", "waiting"), first
    assert snapshot["run"]["status"] == "waiting"
    assert review["kind"] == "tool_approval"
    assert "Only a person can decide this" in review["how_to_answer"]
    assert review["context"]["where_to_decide"].startswith("orq.ai's own interface")  # where, for the person
    assert review["context"]["task_id"] == run_id
    assert refused.is_error
    assert "own interface" in _text(refused)
    assert human is None or human.questions == []  # never put to the person through runbridge
    # The review left gates_list once orq.ai said it was decided, while the refund was still being made.
    assert during["run"]["status"] == "running"
    assert during["open_gates"] == []
    assert during.get("waiting_for") is None
    assert during["run"].get("open_gate") is None
    assert done["status"] == "completed", done
    assert done["outputs"]["text"] == "The refund of 20 for order ord_42 was issued."
    assert run_id not in {g["run_id"] for g in after["gates"]}


@pytest.mark.parametrize(("mode", "answer"), [("legacy", "accept"), ("auto", "accept"), ("legacy", "decline")])
async def test_deleting_an_agent_is_confirmed_by_the_person(
    mode: str, answer: str, connect: Any, human_factory: Any, orq: SandboxServer
) -> None:
    key = f"temp-{uuid.uuid4().hex[:8]}"
    _agent(orq, key)
    human = human_factory((answer, {"confirm": True} if answer == "accept" else None))
    with anyio.fail_after(20):
        async with connect(mode=mode, human=human) as client:
            result = ok(await client.call_tool("agents_delete", {"agent_id": key}))
    (question,) = human.questions
    assert key in question.message
    assert "for good" in question.message
    assert result["deleted"] is (answer == "accept")
    assert _exists(orq, key) is (answer != "accept")


async def test_without_elicitation_deleting_needs_confirm_true(connect: Any, orq: SandboxServer) -> None:
    key = f"temp-{uuid.uuid4().hex[:8]}"
    _agent(orq, key)
    with anyio.fail_after(20):
        async with connect(mode="legacy", human=None) as client:
            refused = await client.call_tool("agents_delete", {"agent_id": key})
            kept = _exists(orq, key)
            done = ok(await client.call_tool("agents_delete", {"agent_id": key, "confirm": True}))
    assert refused.is_error
    assert "confirm: true" in _text(refused)
    assert kept
    assert done["deleted"] is True
    assert not _exists(orq, key)


async def test_the_api_key_never_reaches_a_result_progress_or_log(
    connect: Any,
    human_factory: Any,
    progress: Any,
    settings: Settings,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level("DEBUG")
    seen: list[str] = []
    with anyio.fail_after(30):
        async with connect(mode="legacy", human=human_factory(("accept", {"result": "fine"}))) as client:
            for name, args in [
                ("agents_call", {"agent_id": "weather-agent", "message": "Rome"}),
                ("agents_call", {"agent_id": "broken-agent", "message": "x"}),
                ("agents_get", {"agent_id": "nobody"}),
                ("agents_call", {"agent_id": "echo-agent", "message": "x", "options": {"colour": "red"}}),
                ("runs_list", {}),
                ("usage_report", {}),
            ]:
                result = await client.call_tool(name, args, progress_callback=progress)
                seen.append(_text(result))
                seen.append(str(result.structured_content))
    monkeypatch.setenv(KEY_ENV, "orq-WRONG-" + SENTINEL[::-1])
    async with connect(mode="legacy", human=None) as client:
        refused = await client.call_tool("agents_list", {})
    assert refused.is_error
    assert KEY_ENV in _text(refused)  # where the refused key comes from, never the key
    seen += [_text(refused), *progress.messages, caplog.text]
    assert not [chunk for chunk in seen if SENTINEL in chunk or SENTINEL[::-1] in chunk]


@pytest.mark.parametrize("mode", ERAS)
async def test_an_external_a2a_agent_through_the_agent_tools(
    mode: str, connect: Any, human_factory: Any, orq: SandboxServer
) -> None:
    key = f"remote-{uuid.uuid4().hex[:8]}"
    spec = {"key": key, "display_name": "Remote", "path": "Default/agents", "agent_url": "https://remote.example/a2a"}
    human = human_factory(("accept", {"confirm": True}))
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            made = ok(await client.call_tool("agents_create", {"spec": spec}))
            listed = ok(await client.call_tool("agents_list", {"limit": 100}))
            own = ok(await client.call_tool("agents_list", {"limit": 100, "scope": "workspace"}))
            got = ok(await client.call_tool("agents_get", {"agent_id": key}))
            refreshed = ok(
                await client.call_tool("agents_update", {"agent_id": key, "changes": {"refresh_card": True}})
            )
            deleted = ok(await client.call_tool("agents_delete", {"agent_id": key}))
            gone = await client.call_tool("agents_get", {"agent_id": key})
    assert made["agent"]["details"]["type"] == "a2a"
    assert [a["details"]["type"] for a in listed["agents"] if a["id"] == key] == ["a2a"]
    assert key not in {a["id"] for a in own["agents"]}
    assert got["agent"]["details"]["agent_url"] == "https://remote.example/a2a"
    assert refreshed["agent"]["details"]["card_refreshed_at"] >= got["agent"]["details"]["card_refreshed_at"]
    assert deleted["deleted"] is True
    assert gone.is_error
    assert key in _text(gone)
    external = httpx2.get(f"{orq.base_url}/v2/agents/external/{key}", headers=orq.headers)
    assert external.status_code == 404
