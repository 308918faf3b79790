"""The graphs the real LangGraph Agent Server serves to runbridge's tests: small, with no model, and never blocking
(node functions sleep without blocking, as the dev server runs every graph in one event loop).

- `review`: a draft step, an `interrupt()` review with a question and options, a publish step;
- `form`: an interrupt with a `response_schema` (the answer is a form);
- `pair`: two nodes that run at once and interrupt at once (one a choice, one a plain JSON value);
- `ticker`: a slow graph that ticks (`ticks` steps of `delay` seconds, a custom event each), for cancel, rejoin and
  restarts mid-run.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, TypedDict

import anyio
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import interrupt


class ReviewState(TypedDict, total=False):
    topic: str
    draft: str
    decision: Any
    published: bool
    messages: Annotated[list[AnyMessage], add_messages]


async def draft(state: ReviewState) -> dict[str, Any]:
    topic = state.get("topic") or "owls"
    text = f"A short note on {topic}."
    get_stream_writer()({"note": f"drafting {topic}"})
    return {"draft": text, "messages": [AIMessage(content=f"Draft ready: {text}")]}


async def review_step(state: ReviewState) -> dict[str, Any]:
    decision = interrupt(
        {"question": f"Publish this draft? {state['draft']}", "options": ["approve", "reject", "rework"]}
    )
    return {"decision": decision}


async def publish(state: ReviewState) -> dict[str, Any]:
    approved = state.get("decision") == "approve" or (
        isinstance(state.get("decision"), dict) and state["decision"].get("choice") == "approve"
    )
    return {"published": approved, "messages": [AIMessage(content="Published." if approved else "Not published.")]}


review = (
    StateGraph(ReviewState)
    .add_node("draft", draft)
    .add_node("review", review_step)
    .add_node("publish", publish)
    .add_edge(START, "draft")
    .add_edge("draft", "review")
    .add_edge("review", "publish")
    .add_edge("publish", END)
    .compile()
)

TICKET_SCHEMA = {
    "type": "object",
    "title": "File a ticket",
    "properties": {
        "title": {"type": "string", "description": "One line for the ticket"},
        "priority": {"type": "string", "enum": ["low", "high"]},
        "urgent": {"type": "boolean"},
    },
    "required": ["title", "priority"],
}


class FormState(TypedDict, total=False):
    ticket: Any


async def ask_ticket(state: FormState) -> dict[str, Any]:
    answer = interrupt("Describe the ticket to file", response_schema=TICKET_SCHEMA)
    return {"ticket": answer}


form = StateGraph(FormState).add_node("ask", ask_ticket).add_edge(START, "ask").add_edge("ask", END).compile()


class PairState(TypedDict, total=False):
    answers: Annotated[list[Any], operator.add]


async def legal(state: PairState) -> dict[str, Any]:
    answer = interrupt({"question": "Legal sign-off?", "options": ["yes", "no"]})
    return {"answers": [{"legal": answer}]}


async def budget(state: PairState) -> dict[str, Any]:
    answer = interrupt({"amount": 1200, "currency": "EUR", "lines": [{"item": "venue", "cost": 900}]})
    return {"answers": [{"budget": answer}]}


pair = (
    StateGraph(PairState)
    .add_node("legal", legal)
    .add_node("budget", budget)
    .add_edge(START, "legal")
    .add_edge(START, "budget")
    .add_edge("legal", END)
    .add_edge("budget", END)
    .compile()
)


class TickState(TypedDict, total=False):
    ticks: int
    delay: float
    count: int


async def tick(state: TickState) -> dict[str, Any]:
    count = state.get("count", 0) + 1
    await anyio.sleep(state.get("delay", 0.5))
    get_stream_writer()({"tick": count})
    return {"count": count}


def again(state: TickState) -> str:
    return "tick" if state.get("count", 0) < state.get("ticks", 5) else END


ticker = (
    StateGraph(TickState).add_node("tick", tick).add_edge(START, "tick").add_conditional_edges("tick", again).compile()
)
