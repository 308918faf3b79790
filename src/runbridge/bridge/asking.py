"""Putting a gate to the human the way the client allows, and acting on their answer."""

from __future__ import annotations

from typing import Any

from mcp_types import InputRequiredResult

from ..core.errors import GateError
from ..core.models import Gate, RunStatus
from ..core.protocols import GatesAPI
from .answers import answer_gate
from .following import Follow, report
from .gates import answer_from_content
from .progress import ProgressReporter
from .results import RunReport

__all__ = ["answered_note", "apply_answer", "ask_again", "on_gate", "settled"]


async def settled(f: Follow, gate: Gate) -> bool:
    """Whether runbridge already settled this gate (answered, declined or closed it)."""
    known = await f.app.registry.get_gate(f.profile, gate.gate_id)
    return known is not None and known.state != "open"


async def on_gate(f: Follow, gate: Gate, reporter: ProgressReporter) -> RunReport | InputRequiredResult | None:
    """Put the gate to the human as the client allows; None means it was answered and following goes on."""
    if not gate.resolvable:
        await reporter.note(f"waiting for a decision in the backend's own UI: {gate.prompt}")
        return None
    channel = f.caller.channel()
    if channel == "input_required":
        f._waiting = gate
        return f.caller.input_required(gate, _state(f, gate, reporter.last_value, reporter.step_total))
    if channel == "none":
        f._waiting = gate
        return report(f)
    result = await f.caller.ask_live(gate)
    return await apply_answer(f, gate, result.action, result.content, reporter)


def _state(f: Follow, gate: Gate, progress: float, step_total: int | None) -> dict[str, Any]:
    """What a 2026 retry needs to continue the same run where this call stopped."""
    return {
        "profile": f.profile,
        "run_id": f.run_id,
        "gate_id": gate.gate_id,
        "cursor": f.cursor,
        "events": f.events,
        "wait": f.wait,
        "target_id": f.target_id,
        "progress": progress,
        "step_total": step_total,
    }


def ask_again(f: Follow, gate: Gate, why: str) -> InputRequiredResult:
    """A 2026 retry that did not answer the gate (no answer, or one that does not fit) is asked the same question
    again, the protocol's way, saying why; nothing was sent to the backend and the run still waits."""
    f._waiting = gate
    return f.caller.input_required(gate, _state(f, gate, f.progress_floor, f.step_total), again=why)


async def apply_answer(
    f: Follow, gate: Gate, action: str, content: dict[str, Any] | None, reporter: ProgressReporter | None
) -> RunReport | InputRequiredResult | None:
    """Act on the human's elicitation answer. None: resumed, keep following. A report: stop here. A 2026 retry
    whose answer does not fit is asked again."""
    try:
        answer = answer_from_content(gate, action, content)
    except GateError as exc:  # the form came back with values the gate cannot take: nothing was sent
        if f.caller.channel() == "input_required" and not await settled(f, gate):
            return ask_again(f, gate, f"The answer did not fit the question: {exc} Please answer again.")
        f._waiting, f.status = gate, RunStatus.WAITING
        f.note = f"The answer did not fit the question ({exc}); the gate stays open for gates_respond."
        return report(f)
    if answer is None:
        f.decision, f._waiting, f.status = "cancelled", gate, RunStatus.WAITING
        f.note = "The question was dismissed without a decision; the gate stays open for gates_respond."
        return report(f)
    backend = f.backend
    assert isinstance(backend, GatesAPI)
    outcome = await answer_gate(f.app.registry, backend, f.profile, gate.gate_id, answer)
    f.decision = outcome.decision
    if outcome.waiting is not None:  # taken, and the backend still waits on this gate (a quorum short of votes)
        f._waiting, f.status = outcome.waiting, RunStatus.WAITING
        said = f"{outcome.decision}: {outcome.note or 'the backend still waits on this gate'}"
        f.note = f"{said}. The gate stays open for the next answer (gates_respond, or runs_watch to ask again)."
        if reporter is not None:
            await reporter.note(said)
        return report(f)
    if not outcome.resumed:
        f._waiting, f.status = gate, RunStatus.WAITING
        f.note = "The human declined; this gate has no reject action, so the run still waits on it."
        return report(f)
    f._waiting = None
    f.status = RunStatus.RUNNING
    f.said = answered_note(outcome.decision)
    if reporter is not None:
        await reporter.note(f.said)
        f.said = None
    return None


def answered_note(decision: str) -> str:
    """The progress message for a human's answer that the backend took ("rejected: …", never "accepted" for it)."""
    going = "resuming the run" if decision == "accepted" else "the answer was sent; following the run"
    return f"{decision}: {going}"
