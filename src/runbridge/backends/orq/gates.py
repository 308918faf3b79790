"""orq.ai's human steps as gates (docs/backends/orq.md).

* **Tool review** (`event.agents.action_review_requested`, or `tool.review.requested` on the responses stream): a
  `tool_approval` gate showing the tool, its input and approve/reject, `resolvable: false`: orq.ai's public API
  (and its official client) has no call to submit a review, so the person decides in orq.ai's own UI, and the gate is
  resolved by the `action_reviewed` event that follows. Id: `task_id:review:<agent_tool_call_id>`.
* **Execution review** (`event.agents.execution_review_required`, empty data): the same, for the whole execution.
  Id: `task_id:execution-review:<n>`.
* **Client tool calls** (`inactive` with `pending_tool_calls`): a `tool_result` gate asking the person for each
  tool's result, one text field per call (`result`, or `result_1`, `result_2`, ...), or, where a call's arguments
  carry a JSON schema (`schema`, `result_schema` or `response_schema`: an object with properties), that schema's
  fields (named as the schema names them for a single call; `result_<n>_<field>` for the n-th of several calls).
  The answer goes back on the same task as a `role: "tool"` message of `tool_result` parts. A decline sends
  nothing: the task waits for its results. Id: `task_id:tools:<first call id>`.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, cast

from ...core.errors import GateError
from ...core.models import Gate, GateAnswer, GateField, StepRef
from ...core.text import shorten
from .wire import as_dict, json_or_text

__all__ = ["execution_review_gate", "review_gate", "tool_calls_gate", "tool_results"]

_WHERE = "in orq.ai (the agent's task, Traces or the review queue)"
_WHERE_TO_DECIDE = (
    "orq.ai's own interface: the agent's task (under Traces, by its task_id) or the review queue; whoever decides "
    "needs access to this orq.ai workspace"
)
"""Shown in a review gate's context: the shared `how_to_answer` of a gate runbridge cannot answer says to tell the
person what it asks and where, and the gate model has no field of its own for where."""
_SCHEMA_KEYS = ("schema", "result_schema", "response_schema")
_TYPES = {"string": "text", "number": "number", "integer": "integer", "boolean": "boolean"}


def review_gate(task_id: str, agent_key: str, data: dict[str, Any], opened: datetime) -> Gate:
    tool = as_dict(data.get("tool"))
    call_id = str(data.get("agent_tool_call_id") or data.get("toolCallId") or data.get("action_id") or "call")
    name = str(tool.get("display_name") or tool.get("key") or data.get("toolName") or tool.get("id") or "a tool")
    tool_input = data.get("input", data.get("arguments"))
    return Gate(
        gate_id=f"{task_id}:review:{call_id}",
        run_id=task_id,
        kind="tool_approval",
        prompt=shorten(
            f"Agent {agent_key!r} wants to run {name} with {json.dumps(tool_input, ensure_ascii=False)}: a person "
            f"must approve or reject it {_WHERE}; runbridge cannot submit the review.",
            600,
        ),
        fields=[
            GateField(
                name="decision",
                type="select",
                label="Decision",
                options=["approve", "reject"],
                option_labels=["Approve", "Reject"],
                required=True,
                description=f"Decided {_WHERE}.",
            )
        ],
        context={
            "tool": tool.get("key") or name,
            "tool_type": tool.get("action_type"),
            "input": tool_input,
            "where_to_decide": _WHERE_TO_DECIDE,
            "task_id": task_id,
            "agent_key": agent_key,
        },
        step=StepRef(id=f"tool-call:{call_id}", name=name),
        resolvable=False,
        opened_at=opened,
        resume={"type": "review", "agent_key": agent_key},
    )


def execution_review_gate(task_id: str, agent_key: str, ordinal: int, opened: datetime) -> Gate:
    return Gate(
        gate_id=f"{task_id}:execution-review:{ordinal}",
        run_id=task_id,
        kind="approval",
        prompt=f"Agent {agent_key!r} paused its whole execution for a review: a person must decide {_WHERE}; "
        "runbridge cannot submit the review.",
        context={"where_to_decide": _WHERE_TO_DECIDE, "task_id": task_id, "agent_key": agent_key},
        step=StepRef(id=f"execution-review:{ordinal}", name="execution review"),
        resolvable=False,
        opened_at=opened,
        resume={"type": "review", "agent_key": agent_key},
    )


def _schema_of(arguments: Any) -> dict[str, Any] | None:
    for key in _SCHEMA_KEYS:
        schema = as_dict(as_dict(arguments).get(key))
        if schema.get("type", "object") == "object" and as_dict(schema.get("properties")):
            return schema
    return None


def _schema_fields(schema: dict[str, Any]) -> list[GateField]:
    required = set(cast(list[str], schema.get("required") or []))
    fields: list[GateField] = []
    for name, raw in as_dict(schema.get("properties")).items():
        prop = as_dict(raw)
        options = [str(o) for o in prop.get("enum") or []] if isinstance(prop.get("enum"), list) else None
        kind = "select" if options else _TYPES.get(str(prop.get("type")), "text")
        fields.append(
            GateField(
                name=str(name),
                type=kind,  # type: ignore[arg-type]  (values of _TYPES are FieldType literals)
                label=str(prop.get("title") or name),
                description=str(prop["description"]) if prop.get("description") else None,
                options=options,
                required=str(name) in required,
                default=prop.get("default"),
            )
        )
    return fields


def tool_calls_gate(task_id: str, agent_key: str, pending: list[dict[str, Any]], opened: datetime) -> Gate:
    calls = [
        {
            "id": str(c.get("id")),
            "name": str(as_dict(c.get("function")).get("name") or "tool"),
            "arguments": json_or_text(as_dict(c.get("function")).get("arguments")),
        }
        for c in pending
    ]
    schemas = [_schema_of(call["arguments"]) for call in calls]
    schema = schemas[0] if len(calls) == 1 else None
    forms: list[list[str] | None] = []
    if schema is not None:
        fields = _schema_fields(schema)
    else:
        fields = []
        for i, (call, its) in enumerate(zip(calls, schemas, strict=True), 1):
            if its is not None:  # one of several calls with a schema: its fields, prefixed with the call's number
                own = _schema_fields(its)
                forms.append([f.name for f in own])
                fields += [
                    f.model_copy(update={"name": f"result_{i}_{f.name}", "label": f"{call['name']}: {f.label}"})
                    for f in own
                ]
                continue
            forms.append(None)
            fields.append(
                GateField(
                    name="result" if len(calls) == 1 else f"result_{i}",
                    type="text",
                    label=f"Result of {call['name']}",
                    description=f"What {call['name']}"
                    f"({shorten(json.dumps(call['arguments'], ensure_ascii=False), 200)}) returned; text that reads "
                    "as JSON is sent as JSON.",
                    required=True,
                )
            )
    asked = ", ".join(f"{c['name']}({json.dumps(c['arguments'], ensure_ascii=False)})" for c in calls)
    return Gate(
        gate_id=f"{task_id}:tools:{calls[0]['id']}",
        run_id=task_id,
        kind="tool_result",
        prompt=shorten(
            f"Agent {agent_key!r} asks the caller to run {asked} and send back the result; the task continues with it.",
            600,
        ),
        fields=fields,
        context={"tool_calls": calls},
        step=StepRef(id=f"tool-calls:{calls[0]['id']}", name="client tools"),
        opened_at=opened,
        resume={
            "type": "tool_calls",
            "agent_key": agent_key,
            "calls": [c["id"] for c in calls],
            "schema": schema is not None,
            **({"forms": forms} if len(calls) > 1 and any(forms) else {}),
        },
    )


def tool_results(gate: Gate, answer: GateAnswer) -> dict[str, Any] | None:
    """Call id → result, from the person's answer to a tool-call gate; None for a decline (nothing is sent)."""
    if gate.resume.get("type") != "tool_calls":
        raise GateError("runbridge cannot answer this gate of an orq.ai task: it is decided in orq.ai.")
    if answer.decision == "decline":
        return None
    calls = [str(c) for c in gate.resume.get("calls") or []]
    if gate.resume.get("schema"):
        return {calls[0]: dict(answer.values)}
    if len(calls) == 1:
        return {calls[0]: json_or_text(answer.values.get("result"))}
    forms = cast(list[list[str] | None], gate.resume.get("forms") or [None] * len(calls))
    results: dict[str, Any] = {}
    for i, (call, form) in enumerate(zip(calls, forms, strict=False), 1):
        if form is None:
            results[call] = json_or_text(answer.values.get(f"result_{i}"))
        else:
            prefix = f"result_{i}_"
            results[call] = {f: answer.values[prefix + f] for f in form if prefix + f in answer.values}
    return results
