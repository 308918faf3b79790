"""The prompts a host can offer its user: ready-made instructions that drive the tools, each argument described."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from mcp.server.mcpserver import MCPServer
from pydantic import Field

__all__ = ["register_prompts"]

TargetId = Annotated[
    str,
    Field(
        description=(
            "The workflow or orchestration to start, by the id targets_list shows (for example 'approval-demo')."
        )
    ),
]
Goal = Annotated[
    str,
    Field(
        description=(
            "Optional: what the run is for, in your own words; the assistant keeps it in mind while it follows "
            "the run and summarises the result."
        )
    ),
]


Days = Annotated[
    str,
    Field(description="Optional: how many days back to look, as a whole number (30 when left out)."),
]


def register_prompts(mcp: MCPServer[Any], toolsets: Collection[str]) -> None:
    @mcp.prompt(name="start_and_supervise_run", title="Start and supervise a run")
    def start_and_supervise_run(target_id: TargetId, goal: Goal = "") -> str:
        """Start a run and see it through: progress, human gates and the result."""
        why = f" The goal: {goal}." if goal else ""
        return (
            f"Start the target {target_id!r} with runs_start.{why} Follow it until it is done: when the result says "
            "it is still running, call runs_watch with its run_id. If it waits for a human (waiting_for), show me "
            "the question, the context and the options, wait for MY decision and pass it to gates_respond; never "
            "decide a gate yourself. When it ends, summarise the outputs, any error, and the usage."
        )

    @mcp.prompt(name="review_pending_gates", title="Review pending gates")
    def review_pending_gates() -> str:
        """Walk through every run that waits for a human decision."""
        return (
            "Call gates_list. For each open gate, show me its prompt, context and fields, one at a time, and ask "
            "for my decision. Answer each with gates_respond using exactly what I decide; if I say to skip one, "
            "leave it open. Finish with a short list of what was answered and what still waits."
        )

    _ = (start_and_supervise_run, review_pending_gates)
    if "usage" not in toolsets:
        return

    @mcp.prompt(name="usage_report", title="Report usage and cost")
    def usage_report(days: Days = "") -> str:
        """Summarise the tokens and cost of recent runs, by target and by day."""
        period = f"days={days.strip()}" if days.strip().isdigit() else "the default period (30 days)"
        return (
            f"Call usage_report for {period}, grouped by target, then again grouped by day. Tell me the total tokens "
            "and cost, the targets that cost the most, and how use moved from day to day; say how many runs had no "
            "usage reported, and do not estimate theirs."
        )

    _ = usage_report
