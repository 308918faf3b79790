"""Every Synapse event type of docs/backends/orchestrations.md onto the core model, in the code's and the
documentation's spellings; endings folded into one terminal event; gate fields per docs/backends/orchestrations.md;
resume bodies. Pure translation: no server needed."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runbridge.backends._runlog import follow_log
from runbridge.backends.orchestrations.events import EventMapper
from runbridge.backends.orchestrations.gates import gate_from_payload, resume_body
from runbridge.backends.orchestrations.v1 import RunLog
from runbridge.backends.orchestrations.wire import frame_number, target_of_run_id, usage_of
from runbridge.core.errors import StreamError
from runbridge.core.models import EventKind, GateAnswer, StepRef

RUN = "run_orch-research-report_1734567890123"
STEPS = [
    StepRef(id="step-plan", name="Plan"),
    StepRef(id="step-research", name="Research"),
    StepRef(id="step-draft", name="Draft"),
    StepRef(id="step-approve", name="Approval"),
    StepRef(id="step-report", name="Report"),
]
AT = {"orch_step_id": "step-research", "step_name": "Research"}

CATALOGUE: list[tuple[dict[str, Any], EventKind, str]] = [
    (
        {"type": "orchestration_start", "run_id": RUN, "orchestration_name": "R"},
        EventKind.RUN_STARTED,
        "run started: R",
    ),
    ({"type": "step_start", **AT, "step_type": "agent"}, EventKind.STEP_STARTED, "Research started"),
    ({"type": "step_complete", **AT, "duration_seconds": 1.2}, EventKind.STEP_COMPLETED, "Research done"),
    ({"type": "step_error", **AT, "error": "timed out"}, EventKind.STEP_FAILED, "Research failed: timed out"),
    ({"type": "step_warning", **AT, "message": "slow"}, EventKind.LOG, "slow"),
    ({"type": "thinking", "message": "Planning the search"}, EventKind.REASONING, "Planning the search"),
    ({"type": "status", "message": "Agent ready"}, EventKind.LOG, "Agent ready"),
    ({"type": "llm_thought", "thought": "Look it up", "turn": 1, **AT}, EventKind.REASONING, "thinking: Look it up"),
    ({"type": "llm_reasoning", "reasoning": "Because", "turn": 1}, EventKind.REASONING, "reasoning: Because"),
    ({"type": "agent_turn", "message": "seed name"}, EventKind.REASONING, "thinking: seed name"),
    ({"type": "tool_execution", "tool_name": "web_search", "args": {}, **AT}, EventKind.TOOL_CALLED, "tool web_search"),
    (
        {"type": "tool_result", "tool_name": "web_search", "preview": "x", **AT},
        EventKind.TOOL_RESULT,
        "web_search returned",
    ),
    (
        {"type": "tool_cache_hit", "tool_name": "web_search", "preview": "x"},
        EventKind.TOOL_RESULT,
        "web_search (cached)",
    ),
    (
        {"type": "context_compact", "stage": "1", "chars_before": 9, "chars_after": 3},
        EventKind.LOG,
        "context compacted",
    ),
    ({"type": "final", "response": "An answer", **AT}, EventKind.MESSAGE, "Research answered: An answer"),
    (
        {"type": "routing_decision", "tool_name": "route_publish", "arguments": {}},
        EventKind.DECISION,
        "decision: publish",
    ),
    ({"type": "if_decision", "condition": "x", "result": True, **AT}, EventKind.DECISION, "decision: True"),
    (
        {"type": "switch_decision", "expression": "d", "value": "a", "matched_case": "a"},
        EventKind.DECISION,
        "decision: a",
    ),
    ({"type": "parallel_start", "branch_count": 2, **AT}, EventKind.STEP_STARTED, "Research: 2 branches started"),
    ({"type": "branch_start", "branch_index": 0, **AT}, EventKind.STEP_STARTED, "Research: branch 1 started"),
    ({"type": "parallel_complete", **AT}, EventKind.STEP_COMPLETED, "Research: all branches done"),
    ({"type": "loop_iteration", "iteration": 2, "total": 3, **AT}, EventKind.STEP_STARTED, "Research: iteration 2"),
    (
        {"type": "loop_complete", "iterations_completed": 3, **AT},
        EventKind.STEP_COMPLETED,
        "Research: loop done after 3 iterations",
    ),
    ({"type": "loop_limit_reached", "iterations": 5, "max_iterations": 5}, EventKind.LOG, "step: loop limit reached"),
    (
        {"type": "merge_complete", "input_count": 2, "strategy": "concat", **AT},
        EventKind.STEP_COMPLETED,
        "Research: merged 2 inputs",
    ),
    ({"type": "transform_result", "result": {"a": 1}, **AT}, EventKind.ARTIFACT, "Research result: {'a': 1}"),
    ({"type": "orchestration_end", "orch_step_id": "END"}, EventKind.LOG, "reached the end"),
    ({"type": "something_new", "x": 1}, EventKind.LOG, "something new"),
]


@pytest.mark.parametrize(("raw", "kind", "text"), CATALOGUE, ids=[r["type"] for r, _, _ in CATALOGUE])
def test_each_event_type_maps_to_its_kind_and_a_readable_text(raw: dict[str, Any], kind: EventKind, text: str) -> None:
    events = EventMapper(RUN, steps=STEPS).feed(raw, "7")
    assert [(e.kind, e.text, e.seq, e.raw_type) for e in events] == [(kind, text, "7", raw["type"])]
    assert events[0].data == raw


def test_steps_are_placed_by_the_definition_in_either_spelling() -> None:
    mapper = EventMapper(RUN, steps=STEPS)
    started = mapper.feed({"type": "step_start", "orch_step_id": "step-research", "step_type": "agent"}, "1")[0]
    seed = mapper.feed({"type": "step_start", "step_id": "step-draft", "step_name": "Draft"}, "2")[0]
    tool = mapper.feed({"type": "tool_execution", "tool_name": "web_search", "args": {}}, "3")[0]
    assert started.step == StepRef(id="step-research", name="Research", index=2, total=5)
    assert seed.step == StepRef(id="step-draft", name="Draft", index=3, total=5)
    assert tool.step == seed.step  # no step id on the event: the step under way
    first = EventMapper(RUN, steps=STEPS).feed({"type": "orchestration_start", "run_id": RUN}, "0")[0]
    assert first.step == StepRef(total=5)


def test_markers_make_no_events() -> None:
    mapper = EventMapper(RUN)
    assert mapper.feed({"type": "done"}, "1") == []
    assert mapper.feed({"type": "paused"}, "2") == []
    assert mapper.feed({"type": "stream_complete"}, "3") == []


def test_the_end_of_a_run_folds_into_one_terminal_event_with_outputs_and_usage() -> None:
    mapper = EventMapper(RUN)
    history = [
        {"step_id": "step-plan", "status": "completed", "turns": 1, "cost_usd": 0.004},
        {"step_id": "step-research", "status": "completed", "turns": 4, "cost_usd": 0.015},
        {"step_id": "step-x", "status": "completed", "duration_seconds": 3.0},
    ]
    complete = {"type": "orchestration_complete", "run_id": RUN, "status": "completed", "final_state": {"a": 1}}
    final = {
        "type": "final",
        "response": "Done.",
        "intent": "orchestration",
        "data": {"run_id": RUN, "status": "completed", "step_history": history, "shared_state": {"a": 1, "b": 2}},
        "tool_name": None,
    }
    assert mapper.feed(complete, "10") == []
    assert mapper.feed(final, "11") == []
    (end,) = mapper.feed({"type": "done"}, "12")
    assert (end.kind, end.seq, end.text) == (EventKind.RUN_COMPLETED, "10", "run completed")
    assert end.data["outputs"] == {"response": "Done.", "shared_state": {"a": 1, "b": 2}}
    assert end.usage is not None
    assert (end.usage.cost_usd, end.usage.turns) == (pytest.approx(0.019), 5)


def test_a_step_that_failed_in_a_run_the_server_calls_completed_is_in_the_ending_without_its_traceback() -> None:
    """What Synapse 1.9.2 sends for a raising `transform`: `step_error` (its Python traceback in the error), then
    `step_complete` for the same step, and the run `completed` with that step `completed` in its history."""
    mapper = EventMapper(RUN, steps=STEPS)
    where = {"orch_step_id": "step-draft", "step_name": "Draft"}
    trace = (
        'Traceback (most recent call last):\n  File "/tmp/t/transform.py", line 5\n'
        "ZeroDivisionError: division by zero\n"
    )
    history = [{"step_id": "step-draft", "step_name": "Draft", "status": "completed"}]
    events = [
        e
        for raw in (
            {"type": "step_start", **where, "step_type": "transform"},
            {"type": "step_error", "orch_step_id": "step-draft", "error": f"Transform error: failed (exit 1): {trace}"},
            {"type": "step_complete", **where, "duration_seconds": 0.05},
            {"type": "orchestration_complete", "run_id": RUN, "status": "completed", "final_state": {"a": 1}},
            {"type": "final", "intent": "orchestration", "response": "ok", "data": {"step_history": history}},
            {"type": "done"},
        )
        for e in mapper.feed(raw, "1")
    ]
    failed, end = events[1], events[-1]
    assert failed.text == "Draft failed: Transform error: failed (exit 1): ZeroDivisionError: division by zero"
    assert end.kind is EventKind.RUN_COMPLETED
    expected = [{"step_id": "step-draft", "step": "Draft", "error": failed.text.removeprefix("Draft failed: ")}]
    assert end.data["outputs"]["step_errors"] == end.data["step_errors"] == expected
    assert end.text.startswith("run completed, but step Draft failed: Transform error")
    assert "Traceback" not in str(end.data)


@pytest.mark.parametrize(
    ("ending", "kind", "error"),
    [
        (
            {"type": "orchestration_error", "error": "Cost limit exceeded: $0.52 > max $0.50"},
            EventKind.RUN_FAILED,
            "Cost limit exceeded: $0.52 > max $0.50",
        ),
        ({"type": "orchestration_error", "error": "Cancelled"}, EventKind.RUN_CANCELLED, None),
        (
            {"type": "orchestration_complete", "status": "failed"},
            EventKind.RUN_FAILED,
            "the run ended with status 'failed'",
        ),
        ({"type": "orchestration_complete", "status": "cancelled"}, EventKind.RUN_CANCELLED, None),
    ],
)
def test_failures_and_cancels_end_the_run_with_the_reason(
    ending: dict[str, Any], kind: EventKind, error: str | None
) -> None:
    mapper = EventMapper(RUN)
    assert mapper.feed(ending, "4") == []
    (end,) = mapper.finish()  # the stream ended without `done`: the ending still stands
    assert end.kind is kind
    assert end.data.get("error") == error


def test_a_failed_final_gives_its_response_as_the_reason_without_the_prefix() -> None:
    mapper = EventMapper(RUN)
    data = {"status": "failed", "step_history": [], "shared_state": {}}
    mapper.feed(
        {"type": "final", "intent": "orchestration", "response": "Orchestration error: boom", "data": data}, "1"
    )
    (end,) = mapper.feed({"type": "done"}, "2")
    assert (end.kind, end.data["error"]) == (EventKind.RUN_FAILED, "boom")


def test_a_gate_is_a_form_with_typed_fields_its_prompt_and_the_agent_context() -> None:
    payload = {
        "type": "human_input_required",
        "orch_step_id": "step-approve",
        "run_id": RUN,
        "prompt": "Publish?",
        "fields": [
            {"name": "decision", "type": "select", "label": "Decision", "options": "approve, reject"},
            {"name": "notes", "type": "text", "label": "Editor notes"},
            {"name": "urgent", "type": "boolean", "label": "Urgent"},
            {"name": "words", "type": "number"},
            {"name": "count", "type": "integer"},
            {"name": "tags", "type": "multiselect", "options": ["a", "b"]},
            {"name": "meta", "type": "json"},
            {"name": "when", "type": "date", "placeholder": "YYYY-MM-DD"},
            {"name": "empty", "type": "select"},
        ],
        "agent_context": "Draft article: ...",
        "channel_id": None,
    }
    (event,) = EventMapper(RUN, steps=STEPS).feed(payload, "9")
    gate = event.gate
    assert gate is not None
    assert (event.kind, event.text) == (EventKind.GATE_OPENED, "waiting for a human: Publish?")
    assert (gate.gate_id, gate.kind, gate.prompt) == (f"{RUN}:step-approve", "approval", "Publish?")
    assert gate.context == {"agent_context": "Draft article: ..."}
    assert gate.step == StepRef(id="step-approve", name="Approval", index=4, total=5)
    assert [(f.name, f.type, f.options, f.required) for f in gate.fields] == [
        ("decision", "select", ["approve", "reject"], True),
        ("notes", "text", None, False),
        ("urgent", "boolean", None, False),
        ("words", "number", None, False),
        ("count", "integer", None, False),
        ("tags", "multiselect", ["a", "b"], False),
        ("meta", "json", None, False),
        ("when", "text", None, False),
        ("empty", "text", None, False),
    ]
    assert gate.fields[7].description == "YYYY-MM-DD"
    assert gate.fields[2].label == "Urgent"
    assert gate.resume["seq"] == "9"
    again = EventMapper(RUN).feed(payload, "1")[0].gate
    assert again is not None
    assert again.gate_id == f"{RUN}:step-approve"


def test_a_step_that_asks_again_opens_a_new_gate() -> None:
    mapper = EventMapper(RUN)
    ask = {"type": "human_input_required", "orch_step_id": "step-review", "fields": [], "prompt": "Again?"}
    first, second = mapper.feed(ask, "1")[0].gate, mapper.feed(ask, "2")[0].gate
    assert first is not None
    assert second is not None
    assert (first.gate_id, second.gate_id) == (f"{RUN}:step-review", f"{RUN}:step-review:2")


def test_resume_bodies_are_a_dict_by_field_name_or_the_reject_option() -> None:
    def gate(fields: list[dict[str, Any]]) -> Any:
        return gate_from_payload({"orch_step_id": "s", "fields": fields}, run_id=RUN, step=None)

    approval = gate([{"name": "decision", "type": "select", "options": "approve,reject"}, {"name": "notes"}])
    single = gate([{"name": "headline", "type": "text"}])
    choice = gate([{"name": "size", "type": "select", "options": "s,m,l"}])
    accept = GateAnswer(decision="accept", values={"decision": "approve", "notes": "ok"})
    assert resume_body(approval, accept) == {"response": {"decision": "approve", "notes": "ok"}}
    # By name even for one text field: Synapse would store a bare string as {"response": ...}, losing the name.
    assert resume_body(single, GateAnswer(decision="accept", values={"headline": "Hi"})) == {
        "response": {"headline": "Hi"}
    }
    declined = GateAnswer(decision="decline", values={"notes": "not yet"})
    assert resume_body(approval, declined) == {"response": {"notes": "not yet", "decision": "reject"}}
    assert resume_body(choice, GateAnswer(decision="decline")) is None  # nothing to reject with: stays open
    assert choice.kind == "input"


def test_wire_helpers_read_run_ids_frame_ids_and_history() -> None:
    assert target_of_run_id(RUN) == "orch-research-report"
    assert target_of_run_id("something-else") is None
    assert frame_number("1734567890123-7") == 1734567890123 * 1_000_000 + 7
    assert frame_number("5") == 5_000_000
    assert frame_number("x-1") is None
    assert frame_number(None) is None
    assert usage_of([{"duration_seconds": 1}]) is None
    assert usage_of("nope") is None


GATE = {"type": "human_input_required", "orch_step_id": "step-approve", "run_id": RUN, "prompt": "Go?", "fields": []}


async def _drain(log: RunLog, cursor: str | None = None) -> list[str]:
    seen: list[str] = []
    with anyio.fail_after(5):
        async for event in follow_log(log, cursor):
            seen.append(event.raw_type)
    return seen


@pytest.mark.anyio
async def test_a_resume_stream_that_starts_before_the_run_stream_ended_is_not_taken_for_a_lost_stream() -> None:
    log = RunLog(RUN, EventMapper(RUN))
    log.begin_stream()  # the run stream
    log.take({"type": "orchestration_start", "run_id": RUN})
    log.take(GATE)
    gate = log.open_gate
    assert gate is not None
    log.resumed(gate)
    log.begin_stream()  # the resume stream, accepted before the run stream read its `done`
    assert not log.take({"type": "done"})
    log.stream_ended()  # the run stream's end
    assert log.broken is None
    log.take({"type": "step_start", "orch_step_id": "step-report"})
    log.take({"type": "orchestration_complete", "run_id": RUN, "status": "completed", "final_state": {}})
    log.stream_ended()  # the resume stream ends without `done`: the ending still stands
    assert await _drain(log) == [
        "orchestration_start",
        "human_input_required",
        "resume",
        "step_start",
        "orchestration_complete",
    ]


@pytest.mark.anyio
async def test_a_stream_that_ends_before_a_gate_or_the_end_breaks_the_log_for_every_watch() -> None:
    log = RunLog(RUN, EventMapper(RUN), base=7)
    log.begin_stream()
    log.take({"type": "orchestration_start", "run_id": RUN})
    log.stream_ended("the connection broke (ReadError)")
    assert [e.seq for e in log.events] == ["8"]
    with pytest.raises(StreamError) as lost:
        await _drain(log, "8")
    assert "the connection broke (ReadError)" in str(lost.value)
    assert log.index_after("3") == 0
    assert log.index_after("99") == 1
