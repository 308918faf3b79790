"""The prompts a host can offer its user: ready-made instructions that drive the tools, each argument described."""

from __future__ import annotations

from collections.abc import Collection
from typing import Annotated, Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from pydantic import Field, ValidationError

from ..core.errors import cause_of

__all__ = ["PromptRequests", "register_prompts"]

_SHOWN = 80  # characters of a name the client sent that an error repeats

TargetId = Annotated[
    str,
    Field(
        max_length=256,  # an id, not a document: a longer one is refused as invalid params, never echoed
        description=(
            "The workflow or orchestration to start, by the id targets_list shows (for example 'approval-demo')."
        ),
    ),
]
Goal = Annotated[
    str,
    Field(
        max_length=2_000,
        description=(
            "Optional: what the run is for, in your own words; the assistant keeps it in mind while it follows "
            "the run and summarises the result."
        ),
    ),
]


Days = Annotated[
    str,
    Field(max_length=6, description="Optional: how many days back to look, as a whole number (30 when left out)."),
]


class PromptRequests:
    """Server middleware: a `prompts/get` that names no prompt of this server, or whose arguments do not fit it, is
    the client's mistake: JSON-RPC invalid params (-32602) with one short sentence, on both wires. Left to the SDK it
    is a bare `ValueError`, sent with code 0 on the 2025 wire and as -32603 on the 2026 wire, with a logged stack
    trace on both."""

    def __init__(self, mcp: MCPServer[Any]) -> None:
        self._mcp = mcp

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method != "prompts/get":
            return await call_next(ctx)
        params = ctx.params or {}
        name, arguments = params.get("name"), params.get("arguments") or {}
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return await call_next(ctx)  # the SDK's own params check refuses these as invalid params
        await self._check(name, set(arguments))  # type: ignore[arg-type]
        try:
            return await call_next(ctx)
        except ValueError as exc:  # what the SDK makes of any failure to render: the arguments, once checked above
            raise MCPError(INVALID_PARAMS, _unfit(name, exc)) from None

    async def _check(self, name: str, given: set[str]) -> None:
        prompts = {p.name: p for p in await self._mcp.list_prompts()}
        prompt = prompts.get(name)
        if prompt is None:
            shown = name if len(name) <= _SHOWN else name[: _SHOWN - 1] + "…"
            offered = ", ".join(sorted(prompts))
            raise MCPError(INVALID_PARAMS, f"Unknown prompt {shown!r}; this server offers: {offered}.")
        known = {a.name: a for a in prompt.arguments or []}
        missing = sorted(n for n, a in known.items() if a.required and n not in given)
        unknown = sorted(given - set(known))
        if missing or unknown:
            problems = [f"missing {', '.join(missing)}"] if missing else []
            problems += [f"unknown {', '.join(n[:_SHOWN] for n in unknown[:5])}"] if unknown else []
            takes = ", ".join(f"{n} ({'required' if a.required else 'optional'})" for n, a in known.items())
            raise MCPError(
                INVALID_PARAMS,
                f"Invalid arguments for the prompt {name}: {'; '.join(problems)}. It takes: {takes or 'none'}.",
            )


def _unfit(name: str, exc: ValueError) -> str:
    """Which arguments did not fit and why, from the validation error behind the SDK's, never their values."""
    cause = cause_of(exc, ValidationError)  # the SDK wraps it more than once
    if cause is not None:
        why = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in cause.errors()[:3])
        return f"The prompt {name} could not be made from these arguments ({why})."
    return f"The prompt {name} could not be made from these arguments."


def register_prompts(mcp: MCPServer[Any], toolsets: Collection[str]) -> None:
    """The prompts of the `toolsets` shown, and the middleware that answers a request for a prompt that does not
    fit with invalid params."""
    mcp.middleware.append(PromptRequests(mcp))

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
