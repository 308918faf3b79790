"""Orchagent stream lines → the normalised `RunEvent` and `Gate` (docs/backends/orchagent.md).

Each `data:` line is one JSON object with `type`, and optionally `message`, `details`, `timestamp`; a frame with
several `data:` lines holds several objects (the SDK parses line by line). Lines that are not JSON objects are
skipped. Known types:

* `auth.required` → an `auth` gate: prompt from `message` and `instruction`, `redirect_url` from `details`
  (then the top level); no fields: the human signs in at the URL and confirms; the answer is `POST /resume {}`.
* `approval.required` (also `approval.requested`, `tool.approval_required`): the event that asks to approve an MCP
  tool is not documented (docs/backends/orchagent.md); runbridge reads `details: {server, tool, args}` → a
  `tool_approval` gate with one choice: approve for this run, or deny.
* `run.completed` ends the run (`details.output` is the answer); `error` fails it (as do `run.failed`,
  `run.cancelled`); `run.started`, `step.*`, `tool.*`, `usage`, `message`, `token`, `run.resumed` are read
  for progress; any other type is informational (a log line), never an error.

Gate ids are `run_id:type:ordinal` (the ordinal counts that type from the start of the stream), stable across
replays. Every string is scrubbed of known secret values before it leaves here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from ...core.models import EventKind, Gate, GateField, GateKind, RunEvent, StepRef, Usage, utc_now
from ...core.text import shorten
from .._wire import parse_time
from .secrets import scrub

__all__ = ["END_TYPES", "GATE_TYPES", "Decoder", "RawEvent", "map_event"]

log = logging.getLogger("runbridge.orchagent")

END_TYPES = frozenset({"run.completed", "error", "run.failed", "run.cancelled"})
GATE_TYPES: dict[str, GateKind] = {
    "auth.required": "auth",
    "approval.required": "tool_approval",
    "approval.requested": "tool_approval",
    "tool.approval_required": "tool_approval",
}
_KINDS: dict[str, EventKind] = {
    "run.started": EventKind.RUN_STARTED,
    "run.resumed": EventKind.RUN_RESUMED,
    "run.completed": EventKind.RUN_COMPLETED,
    "error": EventKind.RUN_FAILED,
    "run.failed": EventKind.RUN_FAILED,
    "run.cancelled": EventKind.RUN_CANCELLED,
    "step.started": EventKind.STEP_STARTED,
    "step.completed": EventKind.STEP_COMPLETED,
    "step.failed": EventKind.STEP_FAILED,
    "tool.called": EventKind.TOOL_CALLED,
    "tool.call": EventKind.TOOL_CALLED,
    "tool.result": EventKind.TOOL_RESULT,
    "message": EventKind.MESSAGE,
    "assistant.message": EventKind.MESSAGE,
    "token": EventKind.MESSAGE_DELTA,
    "message.delta": EventKind.MESSAGE_DELTA,
    "usage": EventKind.USAGE,
    **dict.fromkeys(GATE_TYPES, EventKind.GATE_OPENED),
}
_APPROVAL_CHOICES = ["approve", "deny"]
_APPROVAL_LABELS = ["Approve for this run", "Deny"]


@dataclass(frozen=True)
class RawEvent:
    """One event object as sent; `ordinal` counts its type from the start of the stream (1-based)."""

    doc: dict[str, Any]
    type: str
    ordinal: int


class Decoder:
    """Turns the `data` of SSE messages into raw events, counting each type; `reset()` on every new connection
    (the server replays from the start, so the counts come out the same)."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}

    def reset(self) -> None:
        self._counts = {}

    def decode(self, data: str) -> list[RawEvent]:
        events: list[RawEvent] = []
        for line in data.split("\n"):
            try:
                doc: Any = json.loads(line)
            except json.JSONDecodeError:
                log.warning("skipped an event line that is not JSON (%d bytes)", len(line))
                continue
            if not isinstance(doc, dict):
                continue
            doc = cast(dict[str, Any], doc)
            type_ = str(doc.get("type") or "unknown")
            self._counts[type_] = self._counts.get(type_, 0) + 1
            events.append(RawEvent(doc, type_, self._counts[type_]))
        return events


def _details(doc: dict[str, Any]) -> dict[str, Any]:
    details = doc.get("details")
    return cast(dict[str, Any], details) if isinstance(details, dict) else {}


def _step(details: dict[str, Any]) -> StepRef | None:
    name, step_id = details.get("step"), details.get("step_id")
    if not isinstance(name, str) and not isinstance(step_id, str):
        return None
    index, total = details.get("step_index"), details.get("step_total")
    return StepRef(
        id=step_id if isinstance(step_id, str) else None,
        name=name if isinstance(name, str) else None,
        index=index if isinstance(index, int) and not isinstance(index, bool) else None,
        total=total if isinstance(total, int) and not isinstance(total, bool) else None,
    )


def _usage(details: dict[str, Any]) -> Usage | None:
    def count(key: str) -> int:
        value = details.get(key)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    inputs, outputs = count("input_tokens"), count("output_tokens")
    if not inputs and not outputs and not count("total_tokens"):
        return None
    cost = details.get("cost_usd")
    return Usage(
        input_tokens=inputs,
        output_tokens=outputs,
        total_tokens=count("total_tokens") or inputs + outputs,
        cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
    )


def _url(value: object) -> str | None:
    # Only a web address may reach a person's browser (never javascript:, file:, ...).
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def auth_gate(run_id: str, raw: RawEvent, opened: datetime) -> Gate:
    doc, details = raw.doc, _details(raw.doc)
    instruction = details.get("instruction") or doc.get("instruction")
    message = doc.get("message") or "The run needs you to sign in."
    prompt = " ".join(shorten(p, 400) for p in (message, instruction) if p)
    url = _url(details.get("redirect_url")) or _url(doc.get("redirect_url"))
    context = {"provider": details["provider"]} if isinstance(details.get("provider"), str) else {}
    return Gate(
        gate_id=f"{run_id}:{raw.type}:{raw.ordinal}",
        run_id=run_id,
        kind="auth",
        prompt=f"{prompt} Confirm once you have finished signing in; the run then continues.",
        context=context,
        redirect_url=url,
        opened_at=opened,
        resume={"type": "auth"},
    )


def approval_gate(run_id: str, raw: RawEvent, opened: datetime) -> Gate:
    doc, details = raw.doc, _details(raw.doc)
    tool = details.get("tool") if isinstance(details.get("tool"), str) else None
    server = details.get("server") if isinstance(details.get("server"), str) else "mcp"
    args = cast(dict[str, Any], details["args"]) if isinstance(details.get("args"), dict) else {}
    prompt = doc.get("message") or f"Allow the tool {tool or '(unnamed)'} ({server}) to run?"
    return Gate(
        gate_id=f"{run_id}:{raw.type}:{raw.ordinal}",
        run_id=run_id,
        kind="tool_approval",
        prompt=shorten(prompt, 400),
        fields=[
            GateField(
                name="decision",
                type="select",
                label="Decision",
                description="Approve lets this run call the tool with these arguments; deny continues without it.",
                options=list(_APPROVAL_CHOICES),
                option_labels=list(_APPROVAL_LABELS),
                required=True,
            )
        ],
        context={"server": server, "tool": tool, "args": args},
        opened_at=opened,
        resume={"type": "tool_approval", "server": server, "tool": tool, "args_keys": sorted(str(k) for k in args)},
    )


def _describe(type_: str, doc: dict[str, Any], details: dict[str, Any], step: StepRef | None) -> str:
    message = doc.get("message")
    name = step.name if step and step.name else None
    match type_:
        case "run.started":
            return "run started"
        case "step.started" if name:
            return f"{name} started"
        case "step.completed" if name:
            return f"{name} done"
        case "tool.called" | "tool.call":
            return f"calling {details.get('tool') or 'a tool'}"
        case "tool.result":
            return f"{details.get('tool') or 'tool'} returned"
        case "run.resumed":
            return "resumed"
        case "run.completed":
            return "run completed"
        case "error" | "run.failed":
            return f"run failed: {shorten(message or 'unknown error')}"
        case "run.cancelled":
            return "run cancelled"
        case _:
            return shorten(message) if message else type_


def map_event(run_id: str, raw: RawEvent, position: int) -> RunEvent:
    """The normalised event for the `position`-th (1-based) event of the run's stream."""
    doc = cast(dict[str, Any], scrub(raw.doc))
    raw = RawEvent(doc, raw.type, raw.ordinal)
    details = _details(doc)
    kind = _KINDS.get(raw.type, EventKind.LOG)
    ts = parse_time(doc.get("timestamp")) or utc_now()
    step = _step(details)
    data = dict(doc)
    gate = None
    text = _describe(raw.type, doc, details, step)
    if kind is EventKind.GATE_OPENED:
        gate = auth_gate(run_id, raw, ts) if GATE_TYPES[raw.type] == "auth" else approval_gate(run_id, raw, ts)
        gate = gate.model_copy(update={"step": step})
        text = f"waiting for a human: {gate.prompt}"
    elif kind is EventKind.RUN_COMPLETED:
        data["outputs"] = details.get("output", details or None)
    elif kind.terminal:
        code = details.get("code")
        message = shorten(doc.get("message") or "The run failed.", 500)
        data["error"] = {"message": message, "code": code if isinstance(code, str) else None}
    return RunEvent(
        kind=kind,
        raw_type=raw.type,
        seq=str(position),
        run_id=run_id,
        ts=ts,
        step=step,
        text=text,
        data=data,
        gate=gate,
        usage=_usage(details) if kind is EventKind.USAGE else None,
    )
