"""The LangGraph family end to end: runbridge started as a host starts it (stdio), driven by the official MCP client,
against the real LangGraph Agent Server. Every test checks the server's own word (the thread's values, its runs)
as well as what runbridge said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from real_client import CLIENTS, Runbridge, call, structured
from real_langgraph import LangGraphServer
from tcp_cut import CuttableProxy
from tests.mcp_people import Human, Progress

from runbridge.state import SqliteStore

pytestmark = pytest.mark.anyio


def profile(base_url: str) -> dict[str, Any]:
    return {"family": "langgraph", "base_url": base_url, "options": {"poll_seconds": 0.2}}


def thread_of(server: LangGraphServer, run_id: str) -> str:
    """The thread the server holds the run on (runbridge keeps it in the run's locator; the server lists runs by
    thread only, so the test looks through the threads)."""
    for thread in server.call("POST", "/threads/search", {"limit": 1000}):
        if any(r["run_id"] == run_id for r in server.runs(thread["thread_id"])):
            return thread["thread_id"]
    raise AssertionError(f"no thread holds run {run_id}")


class ByQuestion(Human):
    """A person who answers each question by what it asks (the two interrupts of `pair` come in either order)."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        super().__init__()
        self.by_text = answers

    async def __call__(self, ctx: Any, params: Any) -> Any:
        self.answers = [("accept", next(v for k, v in self.by_text.items() if k in params.message))]
        return await super().__call__(ctx, params)


def choices(prop: dict[str, Any]) -> list[str]:
    return list(prop.get("enum") or [c["const"] for c in prop.get("oneOf", [])])


@pytest.mark.parametrize("client", CLIENTS)
async def test_a_review_run_with_progress_and_its_gate_answered_by_every_kind_of_client(
    client: str, langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(langgraph_server.base_url), langgraph_server.key)
    human = Human(("accept", {"choice": "approve"}))
    progress = Progress()
    async with rb.connect(client, human) as mcp:
        args = {"target_id": "review", "inputs": {"topic": "herons"}}
        result = structured(await call(mcp, "runs_start", args, progress_callback=progress))
        run_id = result["run_id"]
        if client == "no-elicitation":
            gate = result["waiting_for"]
            assert result["status"] == "waiting"
            assert gate["prompt"] == "Publish this draft? A short note on herons."
            assert gate["fields"][0]["options"] == ["approve", "reject", "rework"]
            answer = {"gate_id": gate["gate_id"], "decision": "accept", "values": {"choice": "approve"}}
            result = structured(await call(mcp, "gates_respond", answer, progress_callback=progress))
        else:
            (question,) = human.questions
            assert question.message.startswith("Publish this draft? A short note on herons.")
            assert choices(question.requested_schema["properties"]["choice"]) == ["approve", "reject", "rework"]  # type: ignore[index]
        events = structured(await call(mcp, "runs_events", {"run_id": run_id, "limit": 200}))
    assert result["status"] == "completed", result
    assert result["run_id"] == run_id
    assert result["outputs"]["published"] is True
    thread = thread_of(langgraph_server, run_id)
    assert langgraph_server.thread(thread)["values"]["decision"] == "approve"
    assert len(langgraph_server.runs(thread)) == 2  # the run and its resume, one run for the model
    assert any("draft" in m for m in progress.messages)
    assert any("Draft ready: A short note on herons." in m for m in progress.messages)
    kinds = [e["kind"] for e in events["events"]]
    assert kinds[0] == "run.started"
    assert kinds[-1] == "run.completed"
    assert "gate.opened" in kinds
    assert "run.resumed" in kinds
    seqs = [int(e["seq"]) for e in events["events"]]
    assert seqs == sorted(set(seqs))
    assert langgraph_server.key not in str(result) + str(events) + rb.stderr()  # the key never shows
    assert "Traceback" not in rb.stderr()


@pytest.mark.parametrize("client", ["legacy", "modern"])
async def test_a_response_schema_form_and_two_interrupts_at_once_are_asked_and_answered(
    client: str, langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(langgraph_server.base_url), langgraph_server.key)
    ticket = {"title": "Fix the gate", "priority": "high", "urgent": False}
    human = ByQuestion(
        {"ticket": ticket, "Legal sign-off?": {"choice": "yes"}, '"amount": 1200': {"answer": '{"cap": 900}'}}
    )
    async with rb.connect(client, human) as mcp:
        form = structured(await call(mcp, "runs_start", {"target_id": "form"}))
        pair = structured(await call(mcp, "runs_start", {"target_id": "pair"}))
    assert form["status"] == "completed", form
    assert form["outputs"]["ticket"] == ticket
    schema = human.questions[0].requested_schema
    assert schema["required"] == ["title", "priority"]  # type: ignore[index]
    assert choices(schema["properties"]["priority"]) == ["low", "high"]  # type: ignore[index]
    assert pair["status"] == "completed", pair
    assert sorted(pair["outputs"]["answers"], key=str) == sorted([{"legal": "yes"}, {"budget": {"cap": 900}}], key=str)
    (budget_question,) = [q.message for q in human.questions if '"amount": 1200' in q.message]
    assert '"venue"' in budget_question  # any JSON value is shown in full
    assert len(human.questions) == 3


async def test_cancel_a_ticking_run_and_fork_a_finished_one_from_a_checkpoint(
    langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(langgraph_server.base_url), langgraph_server.key)
    human = Human(("accept", {"choice": "approve"}), ("accept", {"choice": "reject"}))
    async with rb.connect("legacy", human) as mcp:
        ticking = structured(
            await call(
                mcp, "runs_start", {"target_id": "ticker", "inputs": {"ticks": 200, "delay": 0.1}, "wait_seconds": 1}
            )
        )
        cancelled = structured(await call(mcp, "runs_cancel", {"run_id": ticking["run_id"]}))
        after = structured(await call(mcp, "runs_get", {"run_id": ticking["run_id"]}))
        done = structured(await call(mcp, "runs_start", {"target_id": "review", "inputs": {"topic": "crows"}}))
        events = structured(await call(mcp, "runs_events", {"run_id": done["run_id"], "limit": 200}))["events"]
        drafted = next(e for e in events if e["kind"] == "step.completed" and e.get("step") == "draft")
        fork = structured(await call(mcp, "runs_fork", {"run_id": done["run_id"], "from_seq": int(drafted["seq"])}))
    assert ticking["status"] in ("queued", "running")
    assert cancelled["status"] == "cancelled"
    assert after["run"]["status"] == "cancelled"
    # No count yet when the cancel came before the first tick was saved (a busy machine starts the run late).
    ticking_thread = langgraph_server.thread(thread_of(langgraph_server, ticking["run_id"]))
    ticks = (ticking_thread.get("values") or {}).get("count", 0)
    assert ticks < 200
    assert done["outputs"]["published"] is True, done
    assert fork["status"] == "completed", fork
    assert fork["run_id"] != done["run_id"]
    assert fork["outputs"]["published"] is False  # the fork's own answer
    assert fork["outputs"]["draft"] == "A short note on crows."  # drafted before the fork point, not again
    assert len(human.questions) == 2
    source = langgraph_server.thread(thread_of(langgraph_server, done["run_id"]))
    assert source["values"]["published"] is True  # the source run is untouched


async def test_runbridge_restarted_mid_run_goes_on_from_its_cursor(
    langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(langgraph_server.base_url), langgraph_server.key)
    args = {"target_id": "ticker", "inputs": {"ticks": 12, "delay": 0.25}, "wait_seconds": 1}
    async with rb.connect("legacy") as mcp:
        started = structured(await call(mcp, "runs_start", args))
    assert started["status"] in ("queued", "running")
    progress = Progress()
    async with rb.connect("legacy") as mcp:  # a new runbridge process on the same store
        finished = structured(
            await call(mcp, "runs_watch", {"run_id": started["run_id"], "wait_seconds": 30}, progress_callback=progress)
        )
        events = structured(await call(mcp, "runs_events", {"run_id": started["run_id"], "limit": 500}))["events"]
    assert finished["status"] == "completed", finished
    assert finished["outputs"]["count"] == 12
    ticks = [e["text"] for e in events if e["kind"] == "log"]
    assert ticks == [f'{{"tick": {n}}}' for n in range(1, 13)]  # every tick once, across the restart
    assert any("tick" in m for m in progress.messages)


async def test_a_stream_dropped_mid_run_is_rejoined_and_loses_nothing(
    langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    proxy = CuttableProxy(langgraph_server.port)
    try:
        rb = Runbridge(tmp_path, profile(proxy.base_url), langgraph_server.key)
        ticks_seen = 0
        cut_at = {3: anyio.Event(), 7: anyio.Event()}  # cut while the run ticks: after its 3rd and its 7th tick

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            nonlocal ticks_seen
            if message and '"tick"' in message:
                ticks_seen += 1
                for at, event in cut_at.items():
                    if ticks_seen >= at:
                        event.set()

        async with rb.connect("legacy") as mcp, anyio.create_task_group() as tg:

            async def cut_twice() -> None:
                for event in cut_at.values():
                    await event.wait()
                    proxy.cut()

            tg.start_soon(cut_twice)
            args = {"target_id": "ticker", "inputs": {"ticks": 12, "delay": 0.25}, "wait_seconds": 30}
            result = structured(await call(mcp, "runs_start", args, progress_callback=on_progress))
            events = structured(await call(mcp, "runs_events", {"run_id": result["run_id"], "limit": 500}))["events"]
            tg.cancel_scope.cancel()  # the cuts are done (a run that ended first would leave one waiting)
    finally:
        proxy.close()
    assert proxy.cuts == 2
    assert result["status"] == "completed", result
    ticks = [e["text"] for e in events if e["kind"] == "log"]
    assert ticks == [f'{{"tick": {n}}}' for n in range(1, 13)]
    seqs = [int(e["seq"]) for e in events]
    assert seqs == sorted(set(seqs))


async def test_without_elicitation_the_form_and_both_interrupts_are_answered_with_gates_respond(
    langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    rb = Runbridge(tmp_path, profile(langgraph_server.base_url), langgraph_server.key)
    ticket = {"title": "Oil the hinge", "priority": "low"}
    async with rb.connect("no-elicitation") as mcp:
        form = structured(await call(mcp, "runs_start", {"target_id": "form"}))
        gate = form["waiting_for"]
        form_done = structured(
            await call(mcp, "gates_respond", {"gate_id": gate["gate_id"], "decision": "accept", "values": ticket})
        )
        pair = structured(await call(mcp, "runs_start", {"target_id": "pair"}))
        answered: list[str] = []
        result = pair
        for _ in range(2):
            waiting = result["waiting_for"]
            answered.append(waiting["step"])
            values = {"choice": "yes"} if waiting["step"] == "legal" else {"answer": "900"}
            answer = {"gate_id": waiting["gate_id"], "decision": "accept", "values": values}
            result = structured(await call(mcp, "gates_respond", answer))
    assert [f["name"] for f in gate["fields"]] == ["title", "priority", "urgent"]
    assert form_done["status"] == "completed", form_done
    thread = langgraph_server.thread(thread_of(langgraph_server, form["run_id"]))
    assert thread["values"]["ticket"] == ticket
    assert sorted(answered) == ["budget", "legal"]
    assert result["status"] == "completed", result
    assert sorted(result["outputs"]["answers"], key=str) == sorted([{"legal": "yes"}, {"budget": 900}], key=str)


async def test_a_gate_answered_first_thing_after_a_restart_resumes_its_run(
    langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    """A new runbridge process on the same store whose first call is gates_respond: the adapter finds the run's
    thread by the locator stored with the run, and the server resumes it."""
    rb = Runbridge(tmp_path, profile(langgraph_server.base_url), langgraph_server.key)
    async with rb.connect("no-elicitation") as mcp:
        waiting = structured(await call(mcp, "runs_start", {"target_id": "review", "inputs": {"topic": "egrets"}}))
    assert waiting["status"] == "waiting", waiting
    answer = {"gate_id": waiting["waiting_for"]["gate_id"], "decision": "accept", "values": {"choice": "approve"}}
    async with rb.connect("no-elicitation") as mcp:  # restarted: the adapter's map of runs to threads is empty
        done = structured(await call(mcp, "gates_respond", answer))
    assert done["status"] == "completed", done
    thread = thread_of(langgraph_server, waiting["run_id"])
    assert langgraph_server.thread(thread)["values"]["decision"] == "approve"


async def test_a_gate_left_answering_by_a_stopped_runbridge_is_open_again_while_its_run_waits(
    langgraph_server: LangGraphServer, tmp_path: Path
) -> None:
    """A claim whose lease lapsed (its process stopped mid-answer): the next runbridge asks the server about the run
    (on the thread stored with it), sees it still waits on the gate, and opens the gate again to be answered."""
    rb = Runbridge(tmp_path, profile(langgraph_server.base_url), langgraph_server.key)
    async with rb.connect("no-elicitation") as mcp:
        waiting = structured(await call(mcp, "runs_start", {"target_id": "review", "inputs": {"topic": "ibises"}}))
    gate_id = waiting["waiting_for"]["gate_id"]
    store = SqliteStore(str(rb.state_path))
    try:
        await store.claim_gate("real", gate_id, lease_seconds=0.001)  # a claim nobody finishes: its lease lapses
    finally:
        await store.aclose()
    async with rb.connect("no-elicitation") as mcp:
        listed = structured(await call(mcp, "gates_list", {"include_closed": True}))
        answer = {"gate_id": gate_id, "decision": "accept", "values": {"choice": "approve"}}
        done = structured(await call(mcp, "gates_respond", answer))
    (gate,) = [g for g in listed["gates"] if g["gate_id"] == gate_id]
    assert gate["state"] == "open"
    assert done["status"] == "completed", done
    thread = thread_of(langgraph_server, waiting["run_id"])
    assert langgraph_server.thread(thread)["values"]["decision"] == "approve"


async def test_stream_mode_messages_gives_the_runs_messages(langgraph_server: LangGraphServer, tmp_path: Path) -> None:
    """`messages` stream mode: the server sends `messages/metadata` and `messages/complete` events (not `messages`),
    and the messages the nodes add are the run's message events."""
    options = {"poll_seconds": 0.2, "stream_modes": ["updates", "messages"]}
    rb = Runbridge(tmp_path, {**profile(langgraph_server.base_url), "options": options}, langgraph_server.key)
    async with rb.connect("no-elicitation") as mcp:
        waiting = structured(await call(mcp, "runs_start", {"target_id": "review", "inputs": {"topic": "cranes"}}))
        answer = {"gate_id": waiting["waiting_for"]["gate_id"], "decision": "accept", "values": {"choice": "approve"}}
        done = structured(await call(mcp, "gates_respond", answer))
        events = structured(await call(mcp, "runs_events", {"run_id": waiting["run_id"], "limit": 200}))["events"]
    assert done["status"] == "completed", done
    messages = [(e["type"], e["text"]) for e in events if e["kind"] == "message"]
    assert messages == [
        ("messages/complete", "Draft ready: A short note on cranes."),
        ("messages/complete", "Published."),
    ], events
