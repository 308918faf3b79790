"""What runbridge keeps of runs, seen through the official MCP client: no record for a run nobody knows, and runs
that read true after a restart (a new runbridge on the same state file): Synapse v1 runs keep their status,
outputs, error, gate and events; on every family a run started before the restart is read, listed, watched and
answered, each adapter finding it again by the locator stored with it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest
from examples._tasks import TaskExtension, cancel, get, until
from mcp import Client

from runbridge.core import Profile, Settings
from runbridge.http import write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import EXAMPLE_SPECS
from runbridge.server import build_server
from runbridge.state import SqliteStore

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_E2E_STORE_KEY"
FAMILIES = ["openwop", "orchestrations", "orchagent"]
PROFILES = ["wop", "syn", "syn2", "oa"]


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(FAMILIES, variants={"orchestrations": "scale"}, keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def settings(sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Four profiles on one sandbox (OpenWOP, Synapse v1, Synapse v1+v2, orchagent) and a state file."""
    monkeypatch.setenv(KEY_ENV, sandbox.api_key)
    token_file = tmp_path / "token.json"
    write_token_file(token_file, sandbox.api_key)
    urls = sandbox.base_urls
    workflows = ["approval-demo", "quick-demo", "failing-demo"]
    profiles = [
        Profile(name="wop", family="openwop", base_url=urls["openwop"], api_key_env=KEY_ENV, workflows=workflows),
        Profile(name="syn", family="orchestrations", base_url=urls["orchestrations"], api_key_env=KEY_ENV),
        Profile(
            name="syn2",
            family="orchestrations",
            base_url=urls["orchestrations"],
            api_key_env=KEY_ENV,
            options={"api_versions": ["v1", "v2"]},
        ),
        Profile(
            name="oa",
            family="orchagent",
            base_url=urls["orchagent"],
            token_file=token_file,
            options={"status_idle_seconds": 0.1},
        ),
    ]
    return Settings(
        profiles={p.name: p for p in profiles},
        state_path=str(tmp_path / "state.db"),
        wait_seconds=15,
        heartbeat_seconds=5,
        progress_interval_seconds=0,
    )


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[Client]:
    """A new runbridge on `settings` (each one a restart of the last: same state file), with a client that declares
    no elicitation (a gate comes back as `waiting_for`)."""
    async with Client(build_server(settings), mode="legacy") as client:
        yield client


async def ok(client: Client, tool: str, args: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, args)
    assert not result.is_error, f"{tool}({args}): {result.content}"
    assert result.structured_content is not None
    return result.structured_content


async def refused(client: Client, tool: str, args: dict[str, Any]) -> str:
    result = await client.call_tool(tool, args)
    assert result.is_error, f"{tool}({args}) should have failed: {result.structured_content}"
    text = "\n".join(getattr(c, "text", "") for c in result.content)
    assert "Traceback" not in text
    return text


async def all_events(client: Client, profile: str, run_id: str) -> tuple[list[dict[str, Any]], set[str]]:
    """Every event runs_events lists for the run, page by page; and the notes the pages carried."""
    events: list[dict[str, Any]] = []
    notes: set[str] = set()
    cursor = None
    for _ in range(50):  # bounded: these runs have a few dozen events
        args: dict[str, Any] = {"run_id": run_id, "profile": profile, "limit": 10}
        if cursor:
            args["cursor"] = cursor
        page = await ok(client, "runs_events", args)
        events += page["events"]
        notes |= {page["note"]} if page.get("note") else set()
        cursor = page.get("next_cursor")
        if not cursor or page["ended"]:
            break
    return events, notes


@pytest.mark.parametrize("profile", PROFILES)
async def test_an_id_nobody_knows_is_no_such_run_and_leaves_no_record(profile: str, settings: Settings) -> None:
    with anyio.fail_after(30):
        async with serving(settings) as client:
            before = await ok(client, "usage_report", {})
            errors = [
                await refused(client, tool, {"run_id": "hello", "profile": profile})
                for tool in ("runs_get", "runs_watch", "runs_events", "runs_cancel")
            ]
            listed = await ok(client, "runs_list", {})
            gates = await ok(client, "gates_list", {"include_closed": True})
            after = await ok(client, "usage_report", {})
    if profile == "syn":  # Synapse v1 has no run status: runbridge says it cannot be confirmed, never "unknown"
        assert "No such run 'hello'" in errors[0]
    assert all("hello" in e or "cannot cancel" in e or "no way to cancel" in e for e in errors), errors
    assert listed["runs"] == []
    assert gates["gates"] == []
    assert after["total"] == before["total"]
    assert after["total"]["runs"] == 0
    store = SqliteStore(settings.state_path)
    try:
        assert await store.get_run(profile, "hello") is None
        assert (await store.events(profile, "hello")).events == []
    finally:
        await store.aclose()


async def test_synapse_v1_runs_keep_status_outputs_error_gate_and_events_across_restarts(settings: Settings) -> None:
    with anyio.fail_after(60):
        async with serving(settings) as client:
            done = await ok(client, "runs_start", {"target_id": "quick-demo", "message": "x", "profile": "syn"})
            failed = await ok(client, "runs_start", {"target_id": "failing-demo", "message": "x", "profile": "syn"})
            waiting = await ok(client, "runs_start", {"target_id": "orch-research-report", "profile": "syn"})
            runs = {r["run_id"]: r for r in (done, failed, waiting)}
            seen = {run_id: (await all_events(client, "syn", run_id))[0] for run_id in runs}
            usage = await ok(client, "usage_report", {"profile": "syn"})
        assert [r["status"] for r in runs.values()] == ["completed", "failed", "waiting"]
        gate_id = waiting["waiting_for"]["gate_id"]

        for _ in range(2):  # restarted twice: reading the runs after the first restart changed nothing
            async with serving(settings) as client:
                got = {run_id: await ok(client, "runs_get", {"run_id": run_id}) for run_id in runs}
                stored = {run_id: await all_events(client, "syn", run_id) for run_id in runs}
                waiting_now = await ok(client, "runs_list", {"status": "waiting"})
                gates = await ok(client, "gates_list", {})
                usage_now = await ok(client, "usage_report", {"profile": "syn"})
            for run_id, first in runs.items():
                run = got[run_id]["run"]
                assert run["status"] == first["status"]
                assert run.get("outputs") == first.get("outputs")
                assert run.get("error") == first.get("error")
                events, notes = stored[run_id]
                assert [(e["seq"], e["kind"]) for e in events] == [(e["seq"], e["kind"]) for e in seen[run_id]]
                assert any("stored" in n for n in notes), notes
            assert got[failed["run_id"]]["run"]["error"]
            assert got[waiting["run_id"]]["waiting_for"]["gate_id"] == gate_id
            assert [r["run_id"] for r in waiting_now["runs"]] == [waiting["run_id"]]
            assert [g["gate_id"] for g in gates["gates"]] == [gate_id]
            assert usage_now["total"] == usage["total"]

        async with serving(settings) as client:
            answer = {"gate_id": gate_id, "decision": "accept", "values": {"decision": "approve"}}
            finished = await ok(client, "gates_respond", answer)
            events, _ = await all_events(client, "syn", waiting["run_id"])
    assert finished["status"] == "completed", finished
    assert events[-1]["kind"] == "run.completed"
    seqs = [int(e["seq"]) for e in events]
    assert seqs == sorted(set(seqs)), "every event once, in order, before and after the restart"


async def test_runs_started_before_a_restart_are_read_watched_answered_and_cancelled_on_each_family(
    settings: Settings, sandbox: SandboxServer
) -> None:
    with anyio.fail_after(60):
        async with serving(settings) as client:
            wop = await ok(client, "runs_start", {"target_id": "approval-demo", "profile": "wop"})
            syn2 = await ok(client, "runs_start", {"target_id": "orch-research-report", "profile": "syn2"})
            thread = await ok(client, "threads_create", {"spec": EXAMPLE_SPECS["tool_approval_chat"], "profile": "oa"})
            oa = await ok(client, "threads_send", {"thread_id": thread["thread_id"], "user_prompt": "search"})
            to_cancel = {
                p: await ok(client, "runs_start", {"target_id": target, "profile": p})
                for p, target in (("wop", "approval-demo"), ("syn2", "orch-research-report"))
            }
        started = {"wop": wop, "syn2": syn2, "oa": oa}
        assert {p: r["status"] for p, r in started.items()} == dict.fromkeys(started, "waiting")

        async with serving(settings) as client:  # restarted: the adapters are new, their maps empty
            got = {p: await ok(client, "runs_get", {"run_id": r["run_id"]}) for p, r in started.items()}
            watched = {
                p: await ok(client, "runs_watch", {"run_id": r["run_id"], "wait_seconds": 1})
                for p, r in started.items()
            }
            answers = {"wop": {}, "syn2": {"decision": "approve"}, "oa": {"decision": "approve"}}
            ended = {
                p: await ok(
                    client,
                    "gates_respond",
                    {"gate_id": r["waiting_for"]["gate_id"], "decision": "accept", "values": answers[p]},
                )
                for p, r in started.items()
            }
            cancelled = {p: await ok(client, "runs_cancel", {"run_id": r["run_id"]}) for p, r in to_cancel.items()}
    assert {p: c["status"] for p, c in cancelled.items()} == {"wop": "cancelled", "syn2": "cancelled"}
    for p, run in started.items():
        assert got[p]["waiting_for"]["gate_id"] == run["waiting_for"]["gate_id"], p
        assert watched[p]["waiting_for"]["gate_id"] == run["waiting_for"]["gate_id"], p
        assert ended[p]["status"] == "completed", (p, ended[p])
    assert got["oa"]["run"]["target_id"] == thread["thread_id"]
    store = SqliteStore(settings.state_path)
    try:
        wop_record = await store.get_run("wop", wop["run_id"])
        oa_record = await store.get_run("oa", oa["run_id"])
    finally:
        await store.aclose()
    assert wop_record is not None
    assert oa_record is not None
    assert wop_record.locator == {
        "events_url": f"{sandbox.base_urls['openwop']}/v1/runs/{wop['run_id']}/events",
        "workflow_id": "approval-demo",
    }
    assert oa_record.locator == {"thread_id": thread["thread_id"]}


@pytest.mark.parametrize(("profile", "settled"), [("syn", "answered"), ("syn2", "open")])
async def test_a_gate_claim_nobody_finished_is_settled_by_what_the_backend_can_say(
    profile: str, settled: str, settings: Settings, sandbox: SandboxServer
) -> None:
    """A claim whose lease lapsed (its runbridge stopped mid-answer) is taken back by the next runbridge. Synapse v2
    says the run still waits on the gate: it is open again and answered. Synapse v1 cannot say whether the answer
    arrived: it is settled as answered, saying so, and never resumed a second time."""
    with anyio.fail_after(30):
        async with serving(settings) as client:
            waiting = await ok(client, "runs_start", {"target_id": "orch-research-report", "profile": profile})
        gate_id = waiting["waiting_for"]["gate_id"]
        store = SqliteStore(settings.state_path)
        try:
            await store.claim_gate(profile, gate_id, lease_seconds=0.001)  # a claim nobody finishes: its lease lapses
        finally:
            await store.aclose()
        resolves = sandbox.stats()["resolves"]
        async with serving(settings) as client:
            listed = await ok(client, "gates_list", {"include_closed": True, "profile": profile})
            answer = {"gate_id": gate_id, "decision": "accept", "values": {"decision": "approve"}}
            answered = await client.call_tool("gates_respond", answer)
    (gate,) = [g for g in listed["gates"] if g["gate_id"] == gate_id]
    assert gate["state"] == settled
    if settled == "open":
        assert not answered.is_error, answered.content
        assert answered.structured_content is not None
        assert answered.structured_content["status"] == "completed"
        assert sandbox.stats()["resolves"] == resolves + 1
    else:
        text = "\n".join(getattr(c, "text", "") for c in answered.content)
        assert answered.is_error
        assert "already answered (unconfirmed" in text
        assert sandbox.stats()["resolves"] == resolves


@pytest.fixture(scope="module")
def located_sandbox() -> Iterator[SandboxServer]:
    with SandboxServer(["langgraph", "orq"], keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def located_settings(located_sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A LangGraph and an orq profile (adapters that find a run by its stored locator: its thread, its agent) and a
    state file."""
    monkeypatch.setenv(KEY_ENV, located_sandbox.api_key)
    urls = located_sandbox.base_urls
    profiles = [
        Profile(name="lg", family="langgraph", base_url=urls["langgraph"], api_key_env=KEY_ENV),
        Profile(name="orq", family="orq", base_url=urls["orq"], api_key_env=KEY_ENV),
    ]
    return Settings(
        profiles={p.name: p for p in profiles},
        state_path=str(tmp_path / "state.db"),
        wait_seconds=15,
        heartbeat_seconds=5,
        progress_interval_seconds=0,
    )


LOCATED_STARTS = {
    "lg": ("runs_start", {"target_id": "review", "inputs": {"topic": "wrens"}, "profile": "lg"}),
    "orq": ("agents_call", {"agent_id": "weather-agent", "message": "Oslo", "profile": "orq"}),
}
LOCATED_ANSWERS = {"lg": {"choice": "approve"}, "orq": {"result": '{"temp_c": -3}'}}


@pytest.mark.parametrize("profile", ["lg", "orq"])
async def test_a_gate_answered_first_thing_after_a_restart_reaches_its_run(
    profile: str, located_settings: Settings
) -> None:
    """gates_respond is the first call of the new runbridge: the adapter has seen nothing of the run yet, and finds
    it by the locator stored with it."""
    tool, args = LOCATED_STARTS[profile]
    with anyio.fail_after(60):
        async with serving(located_settings) as client:
            waiting = await ok(client, tool, args)
        assert waiting["status"] == "waiting", waiting
        answer = {
            "gate_id": waiting["waiting_for"]["gate_id"],
            "decision": "accept",
            "values": LOCATED_ANSWERS[profile],
        }
        async with serving(located_settings) as client:  # restarted: the adapters are new, their maps empty
            done = await ok(client, "gates_respond", answer)
    assert done["status"] == "completed", done


@pytest.mark.parametrize("profile", ["lg", "orq"])
async def test_a_gate_left_answering_by_a_stopped_runbridge_is_open_again_while_its_run_waits(
    profile: str, located_settings: Settings
) -> None:
    """A claim whose lease lapsed on a LangGraph or orq gate: the next runbridge asks the run (found by its stored
    thread, its agent), sees it still waits on the gate, and opens it again; it is then answered."""
    tool, args = LOCATED_STARTS[profile]
    with anyio.fail_after(60):
        async with serving(located_settings) as client:
            waiting = await ok(client, tool, args)
        gate_id = waiting["waiting_for"]["gate_id"]
        store = SqliteStore(located_settings.state_path)
        try:
            await store.claim_gate(profile, gate_id, lease_seconds=0.001)  # a claim nobody finishes: its lease lapses
        finally:
            await store.aclose()
        async with serving(located_settings) as client:
            listed = await ok(client, "gates_list", {"include_closed": True, "profile": profile})
            answer = {"gate_id": gate_id, "decision": "accept", "values": LOCATED_ANSWERS[profile]}
            done = await ok(client, "gates_respond", answer)
    (gate,) = [g for g in listed["gates"] if g["gate_id"] == gate_id]
    assert gate["state"] == "open"
    assert done["status"] == "completed", done


async def test_a_langgraph_task_cancelled_first_thing_after_a_restart_cancels_its_run(
    located_settings: Settings,
) -> None:
    """tasks/cancel is the first call of the new runbridge: the adapter finds the task's run by its stored thread."""
    tool, args = LOCATED_STARTS["lg"]
    with anyio.fail_after(60):
        tasks = TaskExtension(poll=False)
        async with Client(build_server(located_settings), extensions=[tasks]) as client:
            await client.call_tool(tool, args)
            task_id = tasks.created[0].task_id
            await until(client.session, task_id, "input_required")
        async with Client(build_server(located_settings), extensions=[TaskExtension(poll=False)]) as client:
            await cancel(client.session, task_id)  # restarted: the adapters are new, their maps empty
            state = await get(client.session, task_id)
            run = await ok(client, "runs_get", {"run_id": task_id.split("/")[1], "profile": "lg"})
    assert state.status == "cancelled"
    assert run["run"]["status"] == "cancelled"
