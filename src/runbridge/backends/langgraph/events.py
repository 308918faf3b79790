"""The Agent Server's stream events → runbridge's run events (docs/backends/langgraph.md).

Each SSE event of a LangGraph run is one item of its stream (its position counts every event, shown or not), and
becomes at most one `RunEvent`: node names are steps, messages are text. `updates` says which node finished (an
`__interrupt__` update is left to `tasks`), `tasks` when a node starts, fails or raises an interrupt (a gate),
`messages` (in `messages-tuple` mode: `[message, metadata]`) and `messages/complete` (in `messages` mode: `[message]`)
the messages nodes produce, `messages/partial` a model's message so far (a quiet delta), `custom` what a node wrote
to the stream writer. `values`, `checkpoints`, `debug`, `events` and `messages/metadata` count but are not shown.
"""

from __future__ import annotations

import json
from typing import Any

from ...core.models import EventKind, RunEvent, StepRef
from ...core.text import shorten
from .gates import gate_of
from .wire import Interrupt, as_dict, as_list

__all__ = ["RawEvent", "checkpoint_of", "interrupts_raised", "map_event", "parse"]

_TEXT = 200


class RawEvent:
    """One SSE event of a LangGraph run: its type (`updates`, `messages|subgraph`, ...), data and id."""

    def __init__(self, event: str, data: Any, event_id: str) -> None:
        self.event = event
        self.mode = event.split("|", 1)[0]
        self.data = data
        self.id = event_id


def parse(event: str, data: str, event_id: str) -> RawEvent:
    try:
        decoded: Any = json.loads(data)
    except ValueError:
        decoded = data
    return RawEvent(event, decoded, event_id)


def checkpoint_of(raw: RawEvent) -> str | None:
    """The checkpoint a `checkpoints` event announces."""
    if raw.mode != "checkpoints":
        return None
    found = as_dict(as_dict(as_dict(raw.data).get("config")).get("configurable")).get("checkpoint_id")
    return found if isinstance(found, str) else None


def interrupts_raised(raw: RawEvent) -> list[Interrupt]:
    """The interrupts a `tasks` result event says its node raised."""
    if raw.mode != "tasks":
        return []
    data = as_dict(raw.data)
    node = data.get("name")
    found = [Interrupt(as_dict(i), node if isinstance(node, str) else None) for i in as_list(data.get("interrupts"))]
    return [i for i in found if i.id]


def _step(node: object) -> StepRef | None:
    return StepRef(id=str(node), name=str(node)) if isinstance(node, str) and node else None


def _message_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    parts = [as_dict(p).get("text") for p in as_list(content)]
    return " ".join(p for p in parts if isinstance(p, str))


def _message(raw: RawEvent, run_id: str, seq: str) -> RunEvent | None:
    items = as_list(raw.data)
    message = as_dict(items[0]) if items else as_dict(raw.data)
    meta = as_dict(items[1]) if len(items) > 1 else {}
    text = _message_text(message)
    if not text:
        calls = [as_dict(c).get("name") for c in as_list(message.get("tool_calls"))]
        named = [c for c in calls if isinstance(c, str)]
        if not named:
            return None
        return RunEvent(
            kind=EventKind.TOOL_CALLED,
            raw_type=raw.event,
            seq=seq,
            run_id=run_id,
            step=_step(meta.get("langgraph_node")),
            text=f"calling {', '.join(named)}",
            data={"message": message},
        )
    kind = EventKind.MESSAGE
    if str(message.get("type", "")).endswith("Chunk"):
        kind = EventKind.MESSAGE_DELTA
    if message.get("type") == "tool":
        kind = EventKind.TOOL_RESULT
    return RunEvent(
        kind=kind,
        raw_type=raw.event,
        seq=seq,
        run_id=run_id,
        step=_step(meta.get("langgraph_node")),
        text=shorten(text, _TEXT),
        data={"message": message},
    )


def _partial(raw: RawEvent, run_id: str, seq: str) -> RunEvent | None:
    """A model's streamed message so far (`messages` mode sends the whole text again with each token): a delta
    showing where it stands, kept light (its id, not the message), and quiet in progress."""
    message = as_dict((as_list(raw.data) or [None])[0])
    text = _message_text(message)
    if not text:
        return None
    return RunEvent(
        kind=EventKind.MESSAGE_DELTA,
        raw_type=raw.event,
        seq=seq,
        run_id=run_id,
        text=shorten(text, _TEXT),
        data={"id": message.get("id")},
    )


def map_event(raw: RawEvent, run_id: str, seq: str, *, first: bool) -> RunEvent | None:
    """The run event for one stream event of the chain's run (`first`: the chain's first run), or None."""
    data = as_dict(raw.data)
    mode = raw.mode
    if mode == "metadata":
        if not first or "run_id" not in data:
            return None
        return RunEvent(kind=EventKind.RUN_STARTED, raw_type="metadata", seq=seq, run_id=run_id, text="started")
    if mode == "updates":
        nodes = [n for n in data if n != "__interrupt__"]
        if not nodes:
            return None
        return RunEvent(
            kind=EventKind.STEP_COMPLETED,
            raw_type="updates",
            seq=seq,
            run_id=run_id,
            step=_step(nodes[0]) if len(nodes) == 1 else None,
            text="done" if len(nodes) == 1 else f"{', '.join(nodes)} done",
            data={"nodes": nodes},
        )
    if mode == "tasks":
        name = data.get("name")
        if "input" in data or "triggers" in data:
            return RunEvent(
                kind=EventKind.STEP_STARTED, raw_type="tasks", seq=seq, run_id=run_id, step=_step(name), text="started"
            )
        if raised := interrupts_raised(raw):
            gate = gate_of(raised[0], run_id=run_id)
            return RunEvent(
                kind=EventKind.GATE_OPENED,
                raw_type="tasks",
                seq=seq,
                run_id=run_id,
                step=gate.step,
                text=shorten(gate.prompt, _TEXT),
                gate=gate,
            )
        if data.get("error"):
            return RunEvent(
                kind=EventKind.STEP_FAILED,
                raw_type="tasks",
                seq=seq,
                run_id=run_id,
                step=_step(name),
                text=f"failed: {shorten(data['error'], _TEXT)}",
                data={"error": data["error"]},
            )
        return None
    if mode in ("messages", "messages-tuple", "messages/complete"):
        return _message(raw, run_id, seq)
    if mode == "messages/partial":
        return _partial(raw, run_id, seq)
    if mode == "custom":
        shown = raw.data if isinstance(raw.data, str) else json.dumps(raw.data, ensure_ascii=False, default=str)
        return RunEvent(
            kind=EventKind.LOG,
            raw_type="custom",
            seq=seq,
            run_id=run_id,
            text=shorten(shown, _TEXT),
            data=data or {"value": raw.data},
        )
    if mode == "error":
        message = data.get("message") or data.get("error") or raw.data
        return RunEvent(
            kind=EventKind.LOG,
            raw_type="error",
            seq=seq,
            run_id=run_id,
            text=f"error: {shorten(message, _TEXT)}",
            data=data,
        )
    return None
