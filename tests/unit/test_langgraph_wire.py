"""The LangGraph adapter's reading of the wire, without a server: interrupts as gates (every shape), answers as
resume values, the chain cursor, the chain of a thread's runs, and stream events as run events."""

from __future__ import annotations

import pytest

from runbridge.backends.langgraph.events import map_event, parse
from runbridge.backends.langgraph.gates import gate_of, resume_value
from runbridge.backends.langgraph.spec import SPEC, LangGraphOptions
from runbridge.backends.langgraph.wire import Interrupt, chain_of, decode_cursor, encode_seq, interrupts_of
from runbridge.core.errors import CursorError, GateError
from runbridge.core.models import EventKind, GateAnswer


def interrupt(value: object, schema: dict[str, object] | None = None, node: str | None = "review") -> Interrupt:
    return Interrupt({"id": "i1", "value": value, "response_schema": schema}, node)


def test_a_question_with_options_is_a_choice_and_declining_sends_its_reject_option() -> None:
    gate = gate_of(interrupt({"question": "Ship it?", "options": ["ship", "reject"], "draft": "x"}), run_id="r")
    assert (gate.gate_id, gate.kind, gate.prompt) == ("r:i1", "approval", "Ship it?")
    assert gate.fields[0].options == ["ship", "reject"]
    assert gate.context == {"draft": "x"}
    assert resume_value(gate, GateAnswer(decision="accept", values={"choice": "ship"})) == "ship"
    assert resume_value(gate, GateAnswer(decision="decline")) == "reject"


def test_a_response_schema_is_the_form_and_the_object_is_the_answer() -> None:
    schema = {
        "type": "object",
        "properties": {"n": {"type": "integer"}, "tags": {"type": "array", "items": {"enum": ["a", "b"]}}},
        "required": ["n"],
    }
    gate = gate_of(interrupt("How many?", schema), run_id="r")
    assert [(f.name, f.type, f.required) for f in gate.fields] == [
        ("n", "integer", True),
        ("tags", "multiselect", False),
    ]
    assert resume_value(gate, GateAnswer(decision="accept", values={"n": 3, "tags": ["a"]})) == {"n": 3, "tags": ["a"]}
    single = gate_of(interrupt("Why?", {"type": "string"}), run_id="r")
    assert resume_value(single, GateAnswer(decision="accept", values={"answer": "because"})) == "because"


def test_any_other_value_is_shown_in_full_and_answered_freely_but_cannot_be_declined() -> None:
    gate = gate_of(interrupt({"amount": 5, "lines": [1, 2, 3]}), run_id="r")
    assert gate.kind == "custom"
    assert '"lines": [' in gate.prompt
    assert resume_value(gate, GateAnswer(decision="accept", values={"answer": '{"ok": true}'})) == {"ok": True}
    assert resume_value(gate, GateAnswer(decision="accept", values={"answer": "plain words"})) == "plain words"
    with pytest.raises(GateError, match="cannot be declined"):
        resume_value(gate, GateAnswer(decision="decline"))


def test_the_cursor_names_a_run_of_the_chain_and_an_event_of_its_stream() -> None:
    assert decode_cursor(None) == (0, 0)
    assert decode_cursor(encode_seq(2, 17)) == (2, 17)
    for bad in ("abc", "-1", "9" * 16):
        with pytest.raises(CursorError):
            decode_cursor(bad)


def test_the_chain_is_the_root_and_the_runs_resuming_it_oldest_first() -> None:
    runs = [
        {"run_id": "c", "created_at": "3", "metadata": {"runbridge_root": "a"}},
        {"run_id": "x", "created_at": "2", "metadata": {}},
        {"run_id": "a", "created_at": "1", "metadata": {}},
    ]
    assert [r["run_id"] for r in chain_of("a", runs)] == ["a", "c"]


def test_pending_interrupts_are_read_once_each_with_their_node() -> None:
    state = {
        "tasks": [{"name": "legal", "interrupts": [{"id": "i1", "value": 1}]}, {"name": "x", "interrupts": []}],
        "interrupts": [{"id": "i1", "value": 1}, {"id": "i2", "value": 2}],
    }
    assert [(i.id, i.node) for i in interrupts_of(state)] == [("i1", "legal"), ("i2", None)]


def test_stream_events_become_run_events_with_nodes_as_steps() -> None:
    message = parse("messages", '[{"type": "ai", "content": "hi"}, {"langgraph_node": "n"}]', "1-0")
    event = map_event(message, "r", "5", first=True)
    assert event is not None
    assert (event.kind, event.text, event.step and event.step.name) == (EventKind.MESSAGE, "hi", "n")
    raised = parse("tasks", '{"name": "n", "interrupts": [{"id": "i9", "value": "Why?"}]}', "2-0")
    gate = map_event(raised, "r", "6", first=True)
    assert gate is not None
    assert gate.kind is EventKind.GATE_OPENED
    assert gate.gate is not None
    assert gate.gate.gate_id == "r:i9"
    assert map_event(parse("values", "{}", "3-0"), "r", "7", first=True) is None
    assert map_event(parse("metadata", '{"run_id": "r2"}', "4-0"), "r", "8", first=False) is None


def test_messages_mode_events_are_the_runs_messages_and_quiet_deltas() -> None:
    """`messages` stream mode, as the Agent Server names its events: metadata once, then the message so far with
    each token (`partial`), or the whole message (`complete`); a tool call without text is a tool call."""
    metadata = parse("messages/metadata", '{"m1": {"metadata": {"langgraph_node": "n"}}}', "1-0")
    assert map_event(metadata, "r", "1", first=True) is None
    partial = map_event(
        parse("messages/partial", '[{"type": "AIMessageChunk", "content": "He", "id": "m1"}]', "2-0"),
        "r",
        "2",
        first=True,
    )
    assert partial is not None
    assert (partial.kind, partial.text, partial.data) == (EventKind.MESSAGE_DELTA, "He", {"id": "m1"})
    complete = map_event(
        parse("messages/complete", '[{"type": "ai", "content": "Hello", "id": "m1"}]', "3-0"), "r", "3", first=True
    )
    assert complete is not None
    assert (complete.kind, complete.text, complete.raw_type) == (EventKind.MESSAGE, "Hello", "messages/complete")
    tool = parse("messages/complete|sub:1", '[{"type": "tool", "content": "42", "id": "m2"}]', "4-0")
    assert (found := map_event(tool, "r", "4", first=True)) is not None
    assert found.kind is EventKind.TOOL_RESULT
    call = '[{"type": "ai", "content": "", "id": "m3", "tool_calls": [{"name": "search", "args": {}}]}]'
    assert (called := map_event(parse("messages/complete", call, "5-0"), "r", "5", first=True)) is not None
    assert (called.kind, called.text) == (EventKind.TOOL_CALLED, "calling search")
    assert (
        map_event(parse("messages/partial", '[{"type": "AIMessageChunk", "content": ""}]', "6-0"), "r", "6", first=True)
        is None
    )


def test_the_profile_from_the_environment_takes_the_sdks_key_variables_in_order() -> None:
    env = {"LANGGRAPH_API_URL": "http://h:2024", "LANGSMITH_API_KEY": "k", "LANGCHAIN_API_KEY": "k2"}
    assert SPEC.env_profile(env) == {"base_url": "http://h:2024", "api_key_env": "LANGSMITH_API_KEY"}
    assert SPEC.env_profile({}) is None
    with pytest.raises(ValueError, match="unknown stream mode"):
        LangGraphOptions.model_validate({"stream_modes": ["updates", "everything"]})
