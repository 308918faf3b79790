"""An agent call's events, as runbridge's events: the start, a managed loop's `progress` events (a turn is a step;
tool calls and results), and the end (`result`: the agent's output, `error`: the failure, said with what to do).

The call's own events (`CallFeed` input) are `{"type": "started" | "progress" | "result" | "error", "data": ...}`;
`data` of a `progress` event is the wire event's JSON, of `result` the success envelope, of `error` the error
envelope (or, for a refused call, runbridge's own error text).
"""

from __future__ import annotations

from typing import Any

from ...core.models import EventKind, RunEvent, StepRef, Usage
from ...core.text import shorten
from .client import unwrap

__all__ = ["CallFeed", "usage_of", "warnings_text"]


def usage_of(metadata: dict[str, Any]) -> Usage | None:
    usage = metadata.get("usage")
    if not isinstance(usage, dict):
        return None
    tokens_in, tokens_out = int(usage.get("input_tokens") or 0), int(usage.get("output_tokens") or 0)
    return Usage(input_tokens=tokens_in, output_tokens=tokens_out, total_tokens=tokens_in + tokens_out)


def warnings_text(warnings: list[Any]) -> str | None:
    """The agent's warnings about its output, one line each ("LOW_CONFIDENCE (amount): ...")."""
    lines: list[str] = []
    for item in warnings[:10]:
        if isinstance(item, dict):
            field = f" ({item['field']})" if item.get("field") else ""
            lines.append(f"{item.get('code') or 'WARNING'}{field}: {item.get('message') or ''}".rstrip(": "))
    return "; ".join(lines) or None


class CallFeed:
    """Maps one call's events; a managed loop's turn count becomes the step total."""

    def __init__(self, run_id: str, ref: str) -> None:
        self.run_id = run_id
        self.ref = ref
        self.turn: StepRef | None = None
        self.tool: str | None = None

    def _event(self, kind: EventKind, raw_type: str, text: str, data: dict[str, Any], **kw: Any) -> RunEvent:
        return RunEvent(kind=kind, raw_type=raw_type, seq="", run_id=self.run_id, text=text, data=data, **kw)

    def feed(self, raw: dict[str, Any], seq: str) -> list[RunEvent]:
        kind, data = raw.get("type"), raw.get("data")
        if kind == "started":
            return [self._event(EventKind.RUN_STARTED, "call", f"calling {self.ref}", {"agent": self.ref})]
        if kind == "progress" and isinstance(data, dict):
            return self._progress(data)
        if kind == "result":
            output, metadata, warnings = unwrap(data)
            note = raw.get("note")
            event_data = {"outputs": output, "metadata": metadata, "warnings": warnings}
            return [
                self._event(
                    EventKind.RUN_COMPLETED,
                    "result",
                    "the agent answered",
                    event_data,
                    usage=usage_of(metadata),
                    note=note if isinstance(note, str) and note else None,
                )
            ]
        if kind == "error":
            message, code = raw.get("message"), raw.get("code")
            return [
                self._event(
                    EventKind.RUN_FAILED,
                    "error",
                    shorten(str(message or "the call failed"), 200),
                    {"error": {"message": str(message or "the call failed"), "code": code}},
                )
            ]
        return []

    def _progress(self, data: dict[str, Any]) -> list[RunEvent]:
        what = data.get("type")
        if what == "turn_start":
            turn, total = data.get("turn"), data.get("max_turns")
            index = turn if isinstance(turn, int) else None
            self.turn = StepRef(
                id=f"turn-{index}", name=f"turn {index}", index=index, total=total if isinstance(total, int) else None
            )
            return [self._event(EventKind.STEP_STARTED, "progress", f"turn {index}", data, step=self.turn)]
        if what == "tool_call":
            self.tool = str(data.get("tool") or "a tool")
            brief = shorten(str(data.get("args_brief") or ""), 80)
            text = f"calling {self.tool}" + (f": {brief}" if brief else "")
            return [self._event(EventKind.TOOL_CALLED, "progress", text, data, step=self.turn)]
        if what == "tool_result":
            status = str(data.get("status") or "done")
            text = f"{self.tool or 'the tool'} failed" if status == "error" else f"{self.tool or 'the tool'} {status}"
            return [self._event(EventKind.TOOL_RESULT, "progress", text, data, step=self.turn)]
        if what == "done":
            return [self._event(EventKind.LOG, "progress", "the loop finished", data)]
        if what == "error":
            message = shorten(str(data.get("message") or "an error in the loop"), 200)
            return [self._event(EventKind.LOG, "progress", message, data, step=self.turn)]
        return [self._event(EventKind.LOG, "progress", shorten(str(what or "progress"), 80), data, step=self.turn)]

    def finish(self) -> list[RunEvent]:
        return []
