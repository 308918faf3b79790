"""orq.ai gates as runbridge builds them from wire events, and the tool results an answer becomes
(docs/backends/orq.md): one field per call, fields from a JSON schema a call's arguments carry, a decline that sends
nothing, review gates that runbridge cannot answer."""

from __future__ import annotations

import json

import pytest

from runbridge.backends.orq.events import EventMapper
from runbridge.backends.orq.gates import tool_results
from runbridge.backends.orq.wire import call_body, usage_of, user_message
from runbridge.core.errors import GateError, InputError
from runbridge.core.models import EventKind, GateAnswer


def _inactive(*calls: dict[str, object]) -> dict[str, object]:
    pending = [
        {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": json.dumps(c["args"])}}
        for c in calls
    ]
    return {
        "type": "event.agents.inactive",
        "timestamp": "2026-01-01T00:00:00Z",
        "data": {
            "last_message": "",
            "finish_reason": "tool_calls",
            "workflowRunId": "wr",
            "pending_tool_calls": pending,
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
            "billing": {
                "total_cost": 0.5,
                "input_cost": 0.2,
                "output_cost": 0.3,
                "billable": True,
                "integration_id": None,
            },
        },
    }


def test_several_pending_calls_are_one_gate_with_a_field_each() -> None:
    (event,) = EventMapper("weather", "task1").feed(
        _inactive(
            {"id": "c1", "name": "get_weather", "args": {"city": "Oslo"}}, {"id": "c2", "name": "get_time", "args": {}}
        ),
        "",
    )
    gate = event.gate
    assert gate is not None
    assert event.kind is EventKind.GATE_OPENED
    assert gate.gate_id == "task1:tools:c1"
    assert [f.name for f in gate.fields] == ["result_1", "result_2"]
    assert all(f.required for f in gate.fields)
    assert event.usage is not None
    assert event.usage.cost_usd == 0.5
    results = tool_results(gate, GateAnswer(decision="accept", values={"result_1": '{"temp": 3}', "result_2": "noon"}))
    assert results == {"c1": {"temp": 3}, "c2": "noon"}  # text that reads as JSON is sent as JSON


def test_a_call_whose_arguments_carry_a_schema_is_asked_its_fields() -> None:
    schema = {
        "type": "object",
        "properties": {
            "approved_amount": {"type": "number", "title": "Amount"},
            "currency": {"type": "string", "enum": ["EUR", "USD"]},
        },
        "required": ["approved_amount"],
    }
    (event,) = EventMapper("ask", "t").feed(
        _inactive({"id": "c9", "name": "ask_human", "args": {"schema": schema}}), ""
    )
    gate = event.gate
    assert gate is not None
    assert [(f.name, f.type, f.required) for f in gate.fields] == [
        ("approved_amount", "number", True),
        ("currency", "select", False),
    ]
    assert gate.fields[1].options == ["EUR", "USD"]
    values = {"approved_amount": 12.5, "currency": "EUR"}
    assert tool_results(gate, GateAnswer(decision="accept", values=values)) == {"c9": values}


def test_each_of_several_calls_is_asked_by_its_own_schema_with_fields_prefixed_per_call() -> None:
    schema = {"type": "object", "properties": {"email": {"type": "string"}, "ok": {"type": "boolean"}}}
    wire = _inactive(
        {"id": "c1", "name": "lookup", "args": {"id": "o1"}}, {"id": "c2", "name": "ask", "args": {"schema": schema}}
    )
    (event,) = EventMapper("intake", "t").feed(wire, "")
    gate = event.gate
    assert gate is not None
    assert [(f.name, f.type) for f in gate.fields] == [
        ("result_1", "text"),
        ("result_2_email", "text"),
        ("result_2_ok", "boolean"),
    ]
    assert gate.fields[1].label == "ask: email"
    values = {"result_1": '{"status": "shipped"}', "result_2_email": "a@b.example", "result_2_ok": True}
    assert tool_results(gate, GateAnswer(decision="accept", values=values)) == {
        "c1": {"status": "shipped"},
        "c2": {"email": "a@b.example", "ok": True},
    }


def test_a_decline_sends_nothing_and_a_review_cannot_be_answered() -> None:
    (event,) = EventMapper("w", "t").feed(_inactive({"id": "c1", "name": "f", "args": {}}), "")
    assert event.gate is not None
    assert tool_results(event.gate, GateAnswer(decision="decline")) is None
    review = {
        "type": "event.agents.action_review_requested",
        "data": {
            "agent_id": "a",
            "action_id": "act",
            "requires_approval": True,
            "tool": {"id": "tool_refund", "action_type": "http", "key": "refund"},
            "input": {"amount": 5},
            "agent_tool_call_id": "call_7",
        },
    }
    (opened,) = EventMapper("payments", "t").feed(review, "")
    assert opened.gate is not None
    assert opened.gate.resolvable is False
    where = opened.gate.context["where_to_decide"]
    assert opened.gate.context == {
        "tool": "refund",
        "tool_type": "http",
        "input": {"amount": 5},
        "where_to_decide": where,
        "task_id": "t",
        "agent_key": "payments",
    }
    assert "orq.ai" in where
    with pytest.raises(GateError, match=r"decided in orq\.ai"):
        tool_results(opened.gate, GateAnswer(decision="accept", values={"decision": "approve"}))
    reviewed = {
        "type": "event.agents.action_reviewed",
        "data": {
            "agent_id": "a",
            "action_id": "act",
            "agent_tool_call_id": "call_7",
            "review": "approved",
            "workflowRunId": "w",
        },
    }
    (resolved,) = EventMapper("payments", "t").feed(reviewed, "")
    assert resolved.kind is EventKind.GATE_RESOLVED
    assert resolved.gate_id == opened.gate.gate_id
    assert resolved.step is not None
    assert opened.gate.step is not None
    assert resolved.step.id == opened.gate.step.id


def test_bodies_messages_and_usage() -> None:
    message = user_message("hi", [{"uri": "https://x.example/a.pdf", "mime_type": "application/pdf"}])
    assert message["parts"][1] == {
        "kind": "file",
        "file": {"uri": "https://x.example/a.pdf", "mimeType": "application/pdf"},
    }
    body = call_body(
        message, {"thread": {"id": "t"}}, defaults={"memory": {"entity_id": "u"}}, stream_timeout=60, streamed=True
    )
    assert body == {
        "message": message,
        "thread": {"id": "t"},
        "memory": {"entity_id": "u"},
        "stream_timeout_seconds": 60,
    }
    assert "stream_timeout_seconds" not in call_body(message, {}, defaults={}, stream_timeout=60, streamed=False)
    with pytest.raises(InputError, match="a message"):
        user_message(None)
    with pytest.raises(InputError, match="uri"):
        user_message("x", [{"name": "nothing"}])
    assert usage_of({"promptTokens": 3, "completionTokens": 4}) is not None
    assert usage_of({}, {}) is None
