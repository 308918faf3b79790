"""What a tool result looks like on the wire: optional fields that are None are left out of the structured content
(and of the text), everything else is kept, and the result still validates against the tool's output schema."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import jsonschema
from mcp_types import CallToolResult, InputRequiredResult, TextContent
from pydantic import BaseModel, Field, TypeAdapter

from runbridge.bridge.output import output_schema, self_contained, structured, tool_result
from runbridge.bridge.results import RunReport, gate_view, how_to_answer, next_step
from runbridge.core.models import Gate, GateField, Run, RunStatus


class _Shape(BaseModel):
    required_nullable: str | None
    optional: str | None = None
    not_none_default: int | None = 5
    data: Any = None
    mapping: dict[str, Any] = {}


def test_only_optional_fields_with_a_none_default_are_left_out() -> None:
    doc = structured(_Shape(required_nullable=None, not_none_default=None, mapping={"kept": None}))
    assert doc == {"required_nullable": None, "not_none_default": None, "mapping": {"kept": None}}
    shown = structured(_Shape(required_nullable="x", optional="y", data={"inner": None, "list": [None]}))
    assert shown["optional"] == "y"
    assert shown["data"] == {"inner": None, "list": [None]}, "data under Any is returned as it is"


def _gate() -> Gate:
    return Gate(
        gate_id="g1",
        run_id="run_1",
        kind="approval",
        prompt="Approve?",
        fields=[GateField(name="decision", type="select", options=["accept", "reject"])],
        context={"amount": None},
        opened_at=datetime(2026, 1, 1, tzinfo=UTC),
        resume={"token": "opaque"},
    )


def test_nested_models_and_lists_of_models_are_pruned_and_excluded_fields_stay_out() -> None:
    report = RunReport(
        profile="p",
        run_id="run_1",
        status=RunStatus.WAITING,
        done=False,
        waiting_for=gate_view(_gate(), "p"),
        next="Ask the user.",
    )
    doc = structured(report)
    assert not {"decision", "outputs", "cursor", "error", "usage"} & set(doc)
    gate = doc["waiting_for"]
    assert not {"redirect_url", "expires_at"} & set(gate)
    assert gate["context"] == {"amount": None}
    (field,) = gate["fields"]
    assert field == {"name": "decision", "options": ["accept", "reject"], "required": False, "type": "select"}
    assert "resume" not in json.dumps(doc)
    assert TypeAdapter(RunReport).validate_python(doc) == report


def test_a_model_becomes_a_call_tool_result_whose_text_is_the_same_json() -> None:
    run = Run(run_id="run_1", status=RunStatus.COMPLETED, outputs={"answer": 42})
    result = tool_result(run)
    assert isinstance(result, CallToolResult)
    assert result.structured_content == {
        "run_id": "run_1",
        "status": "completed",
        "details": {},
        "outputs": {"answer": 42},
    }
    (text,) = result.content
    assert isinstance(text, TextContent)
    assert json.loads(text.text) == result.structured_content
    assert "null" not in text.text


def test_the_pruned_result_validates_against_the_published_output_schema() -> None:
    report = RunReport(profile="p", run_id="r", status=RunStatus.RUNNING, done=False, next="Watch it.")
    schema = TypeAdapter(RunReport).json_schema()
    jsonschema.validate(structured(report), schema)
    assert not set(schema["required"]) - set(structured(report))


class _Item(BaseModel):
    name: str
    note: str | None = None


class _Holder(BaseModel):
    by_key: dict[str, _Item] = {}
    either: int | str | None = None
    item: _Item | None = Field(default=None, description="The holder's own word on its item.")


def test_models_held_as_dict_values_are_pruned_too() -> None:
    doc = structured(_Holder(by_key={"a": _Item(name="a"), "b": _Item(name="b", note="kept")}))
    assert doc == {"by_key": {"a": {"name": "a"}, "b": {"name": "b", "note": "kept"}}}


def test_the_published_schema_offers_no_null_where_the_result_leaves_the_field_out() -> None:
    published = output_schema(_Shape)
    props = published["properties"]
    assert props["optional"]["type"] == "string"
    assert "anyOf" not in props["optional"]
    assert "default" not in props["optional"]
    assert {"type": "null"} in props["required_nullable"]["anyOf"], "a required field may still be null"
    assert {"type": "null"} in props["not_none_default"]["anyOf"], "so may one whose default is not None"

    holder = output_schema(_Holder)
    assert holder["properties"]["either"]["anyOf"] == [{"type": "integer"}, {"type": "string"}]
    item = holder["properties"]["item"]
    assert item["type"] == "object"
    assert item["description"] == "The holder's own word on its item."
    assert holder["properties"]["by_key"]["additionalProperties"]["properties"]["note"]["type"] == "string"


def test_every_published_run_report_schema_accepts_what_is_sent_and_refuses_a_null() -> None:
    schema = output_schema(RunReport)
    validator = jsonschema.Draft202012Validator(schema)
    sent = structured(
        RunReport(
            profile="p", run_id="r", status=RunStatus.WAITING, done=False, waiting_for=gate_view(_gate(), "p"), next="."
        )
    )
    assert validator.is_valid(sent)
    assert not validator.is_valid({**sent, "cursor": None}), "an absent field is never sent as null"
    assert not validator.is_valid({**sent, "waiting_for": {**sent["waiting_for"], "step": None}})


def test_mcp_results_and_plain_values_pass_through() -> None:
    pending = InputRequiredResult(request_state="sealed")
    assert tool_result(pending) is pending
    assert tool_result({"a": None}) == {"a": None}


def _refs(node: Any) -> int:
    if isinstance(node, dict):
        return ("$ref" in node) + sum(_refs(v) for v in node.values())
    if isinstance(node, list):
        return sum(_refs(v) for v in node)
    return 0


def test_a_self_contained_output_schema_accepts_and_refuses_the_same_documents() -> None:
    schema = TypeAdapter(RunReport).json_schema()
    flat = self_contained(schema)
    assert _refs(schema) > 0
    assert "$defs" not in flat
    assert _refs(flat) == 0
    good = structured(
        RunReport(
            profile="p", run_id="r", status=RunStatus.WAITING, done=False, waiting_for=gate_view(_gate(), "p"), next="."
        )
    )
    bad_status = {**good, "status": "sleeping"}
    bad_field = {**good, "waiting_for": {**good["waiting_for"], "fields": [{"type": "select"}]}}
    for doc, valid in ((good, True), (bad_status, False), (bad_field, False)):
        for each in (schema, flat):
            assert jsonschema.Draft202012Validator(each).is_valid(doc) is valid


class _Tree(BaseModel):
    children: list[_Tree] = []


def test_a_recursive_schema_keeps_its_references() -> None:
    schema = TypeAdapter(_Tree).json_schema()
    assert "$defs" in schema
    assert self_contained(schema) is schema
    elsewhere = {"$defs": {"A": {"type": "string"}}, "properties": {"a": {"$ref": "other.json#/A"}}}
    assert self_contained(elsewhere) is elsewhere
    assert self_contained({"type": "object"}) == {"type": "object"}


# -- how to answer a gate, and what to do next -------------------------------------------------------------------


def _interrupt(kind: str, data: dict[str, Any]) -> Gate:
    from runbridge.backends.openwop.gates import gate_from_interrupt

    return gate_from_interrupt({"kind": kind, "data": data}, run_id="r1", node_id="n1")


def test_a_custom_or_credential_interrupt_asks_for_its_json_value_and_a_decline_leaves_it_waiting() -> None:
    for kind in ("custom", "credential"):
        how = how_to_answer(_interrupt(kind, {"title": "Give the value"}))
        assert "A human must decide this, not you" in how
        assert "value (Value (JSON)): a JSON value, required" in how
        assert "'decline' sends nothing and the run keeps waiting" in how


def test_a_gate_decided_elsewhere_or_without_fields_is_described_as_such() -> None:
    gate = Gate(gate_id="g", run_id="r", kind="external", prompt="Wait", resolvable=False)
    assert "backend's own UI" in how_to_answer(gate)
    assert "gates_respond" not in how_to_answer(gate)
    view = gate_view(gate, "p")
    assert "runs_watch" in next_step("r", done=False, waiting=view, answerable=False)
    assert "gates_respond" not in next_step("r", done=False, waiting=view, answerable=False)
    confirm = Gate(gate_id="g", run_id="r", kind="input", prompt="Go ahead?")
    assert "'accept' (no values) or 'decline'" in how_to_answer(confirm)
    sign_in = Gate(gate_id="g", run_id="r", kind="auth", prompt="Sign in at your provider.")
    assert "what the prompt asks them to do" in how_to_answer(sign_in)
    assert "sign-in link" not in how_to_answer(sign_in)


def test_next_names_the_tool_and_the_gate_and_leaves_how_to_answer_to_the_gate() -> None:
    gate = gate_view(_interrupt("approval", {"title": "Ship?"}), "p")
    nxt = next_step("r1", done=False, waiting=gate)
    assert f"gates_respond with gate_id={gate.gate_id!r}" in nxt
    assert "runs_watch" not in nxt
    assert "runs_watch with run_id='r1'" in next_step("r1", done=False, waiting=gate, watch=True)
    assert gate.how_to_answer not in nxt
    assert "The run is over" in next_step("r1", done=True, waiting=gate)


def test_next_for_a_run_the_backend_says_waits_or_is_paused_before_runbridge_read_a_gate() -> None:
    waiting = next_step("r1", done=False, status=RunStatus.WAITING)
    assert "waits for a human" in waiting
    assert "runs_watch with run_id='r1'" in waiting
    assert "Still running" not in waiting
    paused = next_step("r1", done=False, status=RunStatus.PAUSED)
    assert "paused" in paused
    assert "not at a gate" in paused
    assert next_step("r1", done=False, status=RunStatus.RUNNING).startswith("Still running.")
    gate = gate_view(_interrupt("approval", {"title": "Ship?"}), "p")
    assert "gates_respond" in next_step("r1", done=False, waiting=gate, status=RunStatus.WAITING)


def test_a_gate_shows_its_step_by_name_and_never_by_an_id() -> None:
    from runbridge.bridge.gates import elicitation_message
    from runbridge.core.models import StepRef

    unnamed = Gate(gate_id="g1", run_id="r1", kind="approval", prompt="Approve?", step=StepRef(id="step-approve"))
    named = unnamed.model_copy(update={"step": StepRef(id="step-approve", name="Editor review")})
    assert gate_view(unnamed, "p").step is None
    assert "step-approve" not in elicitation_message(unnamed)
    assert gate_view(named, "p").step == "Editor review"
    assert "step Editor review" in elicitation_message(named)
