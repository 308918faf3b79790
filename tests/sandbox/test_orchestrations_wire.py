"""The Synapse orchestrations sandbox against docs/backends/orchestrations.md: catalogue, auth, errors, synchronous and
streamed runs and resumes, gates, the cost limit, faults, and the v2 queue API."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import anyio
import httpx2
import pytest
from sandbox_wire import Frame, client_for, collect, frames, post_stream

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

V1 = "/api/v1/orchestrations"
V2 = "/api/v2/orchestrations"


@pytest.fixture
def synapse(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(family="orchestrations")


@pytest.fixture
def scale(make_sandbox: Callable[..., SandboxServer]) -> SandboxServer:
    return make_sandbox(family="orchestrations", variant="scale")


def _events(received: list[Frame]) -> list[dict[str, Any]]:
    return [f.json() for f in received if f.comment is None]


async def test_the_catalogue_lists_step_counts_and_describes_each_step(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        listed = (await client.get(V1)).json()
        described = (await client.get(f"{V1}/orch-research-report")).json()
    assert isinstance(listed, list)
    seed = next(o for o in listed if o["id"] == "orch-research-report")
    assert seed == {
        "id": "orch-research-report",
        "name": "Research \u2192 Report",
        "description": "Research a topic and generate a report",
        "steps": 5,
    }
    assert [(s["id"], s["label"], s["type"]) for s in described["steps"]] == [
        ("step-plan", "Plan", "agent"),
        ("step-research", "Research", "tool"),
        ("step-draft", "Draft", "agent"),
        ("step-approve", "Approval", "human"),
        ("step-report", "Report", "agent"),
    ]
    assert described["steps"][1]["depends_on"] == ["step-plan"]


ORCHESTRATIONS = ["orch-research-report", "orch-cost-limit", "orch-two-gates", "orch-quick-summary"]


async def test_the_catalogue_lists_only_orchestrations_yet_any_example_runs_by_id(scale: SandboxServer) -> None:
    async with client_for(scale) as client:
        v1 = (await client.get(V1)).json()
        v2 = (await client.get(V2)).json()
        described = await client.get(f"{V1}/quick-demo")
        ran = (await client.post(f"{V1}/quick-demo/run", json={"message": "go"})).json()
    assert [o["id"] for o in v1] == [o["id"] for o in v2] == ORCHESTRATIONS
    assert described.status_code == 200, "an unlisted example is still described by id"
    assert ran["status"] == "completed", "and still runs by id"


async def test_a_missing_or_wrong_key_is_401_with_a_bearer_challenge(synapse: SandboxServer) -> None:
    async with httpx2.AsyncClient(base_url=synapse.base_url) as client:
        missing = await client.get(V1)
        wrong = await client.get(V1, headers={"Authorization": "Bearer sk-syn-wrong"})
    assert (missing.status_code, missing.json()) == (401, {"detail": "Not authenticated"})
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid or revoked API key"})
    assert missing.headers["www-authenticate"] == wrong.headers["www-authenticate"] == "Bearer"


async def test_errors_use_fastapis_detail_shapes(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        orch = await client.get(f"{V1}/nope")
        run = await client.post(f"{V1}/runs/run_nope_1/resume", json={"response": "x"})
        invalid = await client.post(f"{V1}/orch-quick-summary/run", json={"message": 42})
        no_response = await client.post(f"{V1}/runs/run_nope_1/resume", json={})
        route = await client.get("/api/v1/nothing-here")
    assert (orch.status_code, orch.json()) == (404, {"detail": "Orchestration 'nope' not found"})
    assert (run.status_code, run.json()) == (404, {"detail": "Run 'run_nope_1' not found"})
    assert invalid.status_code == 422
    assert invalid.json()["detail"][0]["loc"] == ["body", "message"]
    assert no_response.json()["detail"][0]["type"] == "missing"
    assert (route.status_code, route.json()) == (404, {"detail": "Not Found"})


async def test_the_run_stream_is_data_only_and_stops_with_done_right_after_the_gate(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        received = await post_stream(client, f"{V1}/orch-research-report/run/stream", {"message": "quantum computing"})
    events = _events(received)
    assert all(f.id is None and f.event is None for f in received if f.comment is None)
    assert all(f.data.startswith('{"type": ') for f in received if f.comment is None), "json.dumps separators"
    start = events[0]
    assert start["type"] == "orchestration_start"
    assert re.fullmatch(r"run_orch-research-report_\d{13}", start["run_id"])
    assert start["orchestration_name"] == "Research \u2192 Report"
    assert [e["type"] for e in events[-2:]] == ["human_input_required", "done"]
    gate = events[-2]
    assert gate["orch_step_id"] == "step-approve"
    assert gate["run_id"] == start["run_id"]
    assert gate["fields"] == [
        {"name": "decision", "type": "select", "label": "Decision", "options": "approve,reject"},
        {"name": "notes", "type": "text", "label": "Editor notes"},
    ]
    assert gate["agent_context"].startswith("Draft article:")
    research = [e for e in events if e.get("orch_step_id") == "step-research"]
    assert [e["type"] for e in research] == ["step_start", "tool_execution", "tool_result", "final", "step_complete"]
    assert research[0]["step_type"] == "tool"
    assert research[1]["tool_name"] == "web_search"


async def test_the_resume_stream_starts_at_the_next_step_and_ends_with_the_final_state(
    synapse: SandboxServer,
) -> None:
    async with client_for(synapse) as client:
        first = _events(await post_stream(client, f"{V1}/orch-research-report/run/stream", {"message": "quantum"}))
        run_id = first[0]["run_id"]
        answer = {"response": {"decision": "approve", "notes": "Publish it."}}
        events = _events(await post_stream(client, f"{V1}/runs/{run_id}/resume/stream", answer))
    types = [e["type"] for e in events]
    assert types[0] == "step_start"
    assert events[0]["orch_step_id"] == "step-report"
    assert "orchestration_start" not in types
    assert types[-4:] == ["orchestration_end", "orchestration_complete", "final", "done"]
    complete, final = events[-3], events[-2]
    assert complete["status"] == "completed"
    state = final["data"]["shared_state"]
    assert state["user_input"] == state["user_query"] == "quantum"
    assert state["approve_output"] == state["human_response"] == answer["response"]
    history = final["data"]["step_history"]
    assert [h["step_id"] for h in history] == ["step-plan", "step-research", "step-draft", "step-report"]
    assert sum(h["cost_usd"] for h in history) == pytest.approx(0.052)
    assert [h["turns"] for h in history] == [1, 2, 1, 1]
    assert final["intent"] == "orchestration"
    assert final["tool_name"] is None


async def test_a_synchronous_run_pauses_then_resumes_to_completed(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        paused = (await client.post(f"{V1}/orch-research-report/run", json={"message": "AI trends"})).json()
        run_id = paused["run_id"]
        done = await client.post(f"{V1}/runs/{run_id}/resume", json={"response": {"decision": "approve"}})
    assert paused["status"] == "paused"
    asked = paused["human_input_required"]
    assert asked["step_id"] == "step-approve"
    assert asked["prompt"] == "Please review the draft article and decide whether to publish."
    assert asked["fields"][0]["options"] == "approve,reject"
    body = done.json()
    assert (done.status_code, body["status"]) == (200, "completed")
    assert body["response"] == "Research and report generation complete."
    assert body["shared_state"]["report_output"].startswith("# Synapse AI Platform")


async def test_a_cost_limit_breach_is_http_200_failed_or_an_error_event(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        failed = await client.post(f"{V1}/orch-cost-limit/run", json={"message": "x"})
        events = _events(await post_stream(client, f"{V1}/orch-cost-limit/run/stream", {"message": "x"}))
    assert failed.status_code == 200
    body = failed.json()
    assert (body["status"], body["response"]) == ("failed", "Cost limit exceeded: $0.52 > max $0.50")
    assert [h["cost_usd"] for h in body["step_history"]] == [0.26, 0.26]
    assert events[-2:] == [
        {"type": "orchestration_error", "error": "Cost limit exceeded: $0.52 > max $0.50"},
        {"type": "done"},
    ]


async def test_a_failed_step_is_a_step_error_and_a_failed_completion(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        events = _events(await post_stream(client, f"{V1}/failing-demo/run/stream", {}))
    types = [e["type"] for e in events]
    assert "step_error" in types
    assert types[-3:] == ["orchestration_complete", "final", "done"]
    assert events[-3]["status"] == "failed"


async def test_a_second_gate_takes_a_plain_string_for_its_one_text_field(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        first = (await client.post(f"{V1}/orch-two-gates/run", json={})).json()
        run_id = first["run_id"]
        answer = {"response": {"decision": "revise", "notes": "Shorter."}}
        switch = _events(await post_stream(client, f"{V1}/runs/{run_id}/resume/stream", answer))
        last = (await client.post(f"{V1}/runs/{run_id}/resume", json={"response": "Three findings"})).json()
    decision = next(e for e in switch if e["type"] == "switch_decision")
    assert (decision["orch_step_id"], decision["value"]) == ("step-route", "revise")
    assert switch[-2]["type"] == "human_input_required"
    assert switch[-2]["fields"] == [{"name": "headline", "type": "text", "label": "Headline"}]
    assert last["status"] == "completed"
    assert last["shared_state"]["headline_output"] == {"headline": "Three findings"}


async def test_resume_does_not_check_the_runs_status_but_counts_it(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        done = (await client.post(f"{V1}/orch-quick-summary/run", json={})).json()
        again = await client.post(f"{V1}/runs/{done['run_id']}/resume", json={"response": "again"})
        events = _events(await post_stream(client, f"{V1}/runs/{done['run_id']}/resume/stream", {"response": "x"}))
        unknown = _events(await post_stream(client, f"{V1}/runs/run_nope_2/resume/stream", {"response": "x"}))
    assert done["status"] == "completed"
    assert again.json()["status"] == "completed"
    assert [e["type"] for e in events] == ["orchestration_complete", "final", "done"]
    assert unknown == [{"type": "orchestration_error", "error": "Run not found"}, {"type": "done"}]
    assert synapse.stats()["resumes_without_gate"] == 2


async def test_pings_fill_a_quiet_stream(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        body = {"_sandbox": {"quiet_at": 2, "quiet_seconds": 0.12}}
        received = await post_stream(client, f"{V1}/orch-quick-summary/run/stream", body)
    comments = [f.comment for f in received if f.comment is not None]
    assert comments
    assert set(comments) == {" ping"}
    assert received[-1].json() == {"type": "done"}


async def test_a_dropped_stream_ends_without_done(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        body = {"message": "x", "_sandbox": {"drop_after": [3]}}
        with anyio.fail_after(5), pytest.raises(httpx2.RemoteProtocolError):
            async with client.stream("POST", f"{V1}/orch-research-report/run/stream", json=body) as response:
                await collect(response)
    assert synapse.stats()["stream_drops"] == 1


async def test_bursts_answer_429_with_retry_after_and_a_detail(synapse: SandboxServer) -> None:
    synapse.faults.burst(429, 1, retry_after=2, path_prefix=V1)
    async with client_for(synapse) as client:
        limited = await client.get(V1)
        fine = await client.get(V1)
    assert (limited.status_code, limited.json()) == (429, {"detail": "Rate limit exceeded."})
    assert limited.headers["retry-after"] == "2"
    assert fine.status_code == 200


async def test_the_seed_spelling_names_steps_by_step_id(make_sandbox: Callable[..., SandboxServer]) -> None:
    seed = make_sandbox(family="orchestrations", variant="seed")
    async with client_for(seed) as client:
        events = _events(await post_stream(client, f"{V1}/orch-quick-summary/run/stream", {}))
    starts = [e for e in events if e["type"] == "step_start"]
    assert starts[0] == {"type": "step_start", "step_id": "step-fetch", "step_name": "Fetch"}


async def test_v2_answers_503_unless_scale_mode_is_on(synapse: SandboxServer) -> None:
    async with client_for(synapse) as client:
        off = await client.post(f"{V2}/orch-quick-summary/run", json={})
    assert off.status_code == 503
    assert "detail" in off.json()


async def test_a_v2_stream_replays_after_last_event_id_and_stays_open_across_the_gate(scale: SandboxServer) -> None:
    async with client_for(scale) as client, client_for(scale) as other:
        queued = await client.post(f"{V2}/orch-research-report/run", json={"message": "x"})
        assert queued.status_code == 202
        run = queued.json()
        assert run["status"] == "queued"
        received: list[Frame] = []
        with anyio.fail_after(5):
            async with client.stream("GET", run["stream_url"]) as response:
                async for frame in frames(response):
                    if frame.comment is not None:
                        continue
                    received.append(frame)
                    if frame.json()["type"] == "paused":
                        status = (await other.get(run["status_url"])).json()
                        assert (status["status"], status["waiting_for_human"]) == ("paused", True)
                        assert status["current_step_id"] == "step-approve"
                        answer = {"response": {"decision": "approve"}}
                        assert (await other.post(f"{V2}/runs/{run['run_id']}/resume", json=answer)).status_code == 202
            middle = received[3].id
            async with client.stream("GET", run["stream_url"], headers={"Last-Event-ID": middle or ""}) as response:
                replay = await collect(response)
            async with client.stream("GET", run["stream_url"], headers={"Last-Event-ID": received[-1].id or ""}) as r:
                after_end = await collect(r)
            late = await other.post(f"{V2}/runs/{run['run_id']}/resume", json={"response": {"decision": "approve"}})
            status = (await other.get(run["status_url"])).json()
    ids = [f.id for f in received]
    assert all(ids)
    assert len(set(ids)) == len(ids)
    types = [f.json()["type"] for f in received]
    assert types[0] == "orchestration_start"
    assert types.index("paused") == types.index("human_input_required") + 1
    assert types[-1] == "done"
    assert [f.id for f in replay] == ids[4:]
    assert [f.json() for f in after_end] == [{"type": "stream_complete"}]
    assert late.status_code == 409
    assert status["status"] == "completed"
    assert status["total_cost_usd"] == pytest.approx(0.052)


async def test_a_v2_cancel_ends_a_waiting_run(scale: SandboxServer) -> None:
    async with client_for(scale) as client:
        run = (await client.post(f"{V2}/orch-research-report/run", json={})).json()
        with anyio.fail_after(5):
            async with client.stream("GET", run["stream_url"]) as response:
                async for frame in frames(response):
                    if frame.comment is None and frame.json()["type"] == "paused":
                        break
        cancelled = await client.post(f"{V2}/runs/{run['run_id']}/cancel")
        status = (await client.get(run["status_url"])).json()
        async with client.stream("GET", run["stream_url"]) as response:
            events = [f.json() for f in await collect(response)]
        events_doc = (await client.get(f"{V2}/runs/{run['run_id']}/events")).json()
    assert cancelled.json() == {"status": "cancellation_requested", "run_id": run["run_id"]}
    assert status["status"] == "cancelled"
    assert [e["type"] for e in events[-3:]] == ["orchestration_complete", "final", "done"]
    assert events[-3]["status"] == "cancelled"
    assert events_doc["count"] == len(events)
    assert json.dumps(events_doc["events"][0]).startswith('{"id": ')
