"""The graphs the LangGraph sandbox serves (docs/backends/langgraph.md): the same four the real-server tests run, as
scripted nodes. A node gets the state, what resumes its interrupt (if anything does), and a stream writer; it
returns its update (and the messages it adds), or raises `Interrupt`.

- `review`: draft, a review interrupt with a question and options, publish;
- `form`: an interrupt with a response schema;
- `pair`: two nodes at once, each interrupting (a choice, and a plain JSON value);
- `ticker`: `ticks` steps of `delay` seconds, a custom event each.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

__all__ = ["GRAPHS", "Graph", "Interrupt", "NodeResult", "Writer"]

Writer = Callable[[Any], None]


class Interrupt(Exception):
    """A node stops for a human: `value` is shown, `schema` (if any) is the answer's JSON Schema."""

    def __init__(self, value: Any, schema: dict[str, Any] | None = None) -> None:
        super().__init__("interrupt")
        self.value = value
        self.schema = schema


@dataclass
class NodeResult:
    update: dict[str, Any]
    messages: list[str] = field(default_factory=list[str])  # AI messages the node adds, by text


Node = Callable[[dict[str, Any], Any, Writer], Awaitable[NodeResult]]
_NO_ANSWER = object()


@dataclass
class Graph:
    """Nodes, and the next nodes after some ran (`after(state, [])` for the first)."""

    name: str
    nodes: dict[str, Node]
    after: Callable[[dict[str, Any], list[str]], list[str]]
    input_schema: dict[str, Any] | None = None
    appends: frozenset[str] = frozenset()  # keys whose updates are added to the list (a reducer), not replacing it

    @staticmethod
    def answer(resume: Any) -> bool:
        return resume is not _NO_ANSWER


NO_ANSWER = _NO_ANSWER


def _chain(*order: str) -> Callable[[dict[str, Any], list[str]], list[str]]:
    def after(state: dict[str, Any], done: list[str]) -> list[str]:
        if not done:
            return [order[0]]
        at = order.index(done[-1])
        return [order[at + 1]] if at + 1 < len(order) else []

    return after


async def _draft(state: dict[str, Any], resume: Any, write: Writer) -> NodeResult:
    topic = state.get("topic") or "owls"
    text = f"A short note on {topic}."
    write({"note": f"drafting {topic}"})
    return NodeResult({"draft": text}, [f"Draft ready: {text}"])


async def _review(state: dict[str, Any], resume: Any, write: Writer) -> NodeResult:
    if resume is _NO_ANSWER:
        question = f"Publish this draft? {state.get('draft')}"
        raise Interrupt({"question": question, "options": ["approve", "reject", "rework"]})
    return NodeResult({"decision": resume})


async def _publish(state: dict[str, Any], resume: Any, write: Writer) -> NodeResult:
    decision = state.get("decision")
    approved = decision == "approve" or (isinstance(decision, dict) and decision.get("choice") == "approve")
    return NodeResult({"published": approved}, ["Published." if approved else "Not published."])


TICKET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "File a ticket",
    "properties": {
        "title": {"type": "string", "description": "One line for the ticket"},
        "priority": {"type": "string", "enum": ["low", "high"]},
        "urgent": {"type": "boolean"},
    },
    "required": ["title", "priority"],
}


async def _ask(state: dict[str, Any], resume: Any, write: Writer) -> NodeResult:
    if resume is _NO_ANSWER:
        raise Interrupt("Describe the ticket to file", TICKET_SCHEMA)
    return NodeResult({"ticket": resume})


async def _legal(state: dict[str, Any], resume: Any, write: Writer) -> NodeResult:
    if resume is _NO_ANSWER:
        raise Interrupt({"question": "Legal sign-off?", "options": ["yes", "no"]})
    return NodeResult({"answers": [{"legal": resume}]})


async def _budget(state: dict[str, Any], resume: Any, write: Writer) -> NodeResult:
    if resume is _NO_ANSWER:
        raise Interrupt({"amount": 1200, "currency": "EUR", "lines": [{"item": "venue", "cost": 900}]})
    return NodeResult({"answers": [{"budget": resume}]})


def _pair_after(state: dict[str, Any], done: list[str]) -> list[str]:
    return [] if done else ["legal", "budget"]


async def _tick(state: dict[str, Any], resume: Any, write: Writer) -> NodeResult:
    count = int(state.get("count", 0)) + 1
    await anyio.sleep(float(state.get("delay", 0.5)))
    write({"tick": count})
    return NodeResult({"count": count})


def _tick_after(state: dict[str, Any], done: list[str]) -> list[str]:
    return ["tick"] if int(state.get("count", 0)) < int(state.get("ticks", 5)) else []


GRAPHS: dict[str, Graph] = {
    g.name: g
    for g in (
        Graph(
            "review", {"draft": _draft, "review": _review, "publish": _publish}, _chain("draft", "review", "publish")
        ),
        Graph("form", {"ask": _ask}, _chain("ask")),
        Graph("pair", {"legal": _legal, "budget": _budget}, _pair_after, appends=frozenset({"answers"})),
        Graph(
            "ticker",
            {"tick": _tick},
            _tick_after,
            input_schema={
                "type": "object",
                "properties": {"ticks": {"type": "integer"}, "delay": {"type": "number"}},
            },
        ),
    )
}
