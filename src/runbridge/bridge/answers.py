"""Answering a gate: at most once, checked against its schema, and only while its run still waits on it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import budget
from ..core.errors import GateError
from ..core.models import Gate, GateAnswer
from ..core.protocols import GatesAPI
from ..state import RunStore
from .gates import validate_values
from .locating import locate

__all__ = ["AnswerOutcome", "answer_gate"]


_REJECTS = frozenset({"reject", "rejected"})
# How long a claim outlives the call answering it: another process takes a claim over only once its lease lapsed (or
# its process is gone), and every backend request of the call ends within the call's own time budget.
_LEASE_MARGIN = 120.0


@dataclass(frozen=True)
class AnswerOutcome:
    """`resumed`: the backend took the answer and the run continues; False for a decline that left the gate open,
    and for an answer the backend took while it still waits on the same gate (`waiting`: the gate as it now stands,
    e.g. a quorum that needs more votes; `note` says so in words). `decision`: accepted, rejected or declined."""

    resumed: bool
    decision: str
    waiting: Gate | None = None
    note: str | None = None


def _decision(gate: Gate, answer: GateAnswer, response: dict[str, Any]) -> str:
    """What the human decided, in words: the backend's reading (`decision`) first; a picked reject option is a
    rejection, not an acceptance."""
    said = response.get("decision")
    if isinstance(said, str) and said:
        return said
    if answer.decision == "decline":
        return "declined"
    picked = [answer.values.get(f.name) for f in gate.fields if f.type == "select"]
    return "rejected" if any(str(p).lower() in _REJECTS for p in picked if p is not None) else "accepted"


async def answer_gate(
    registry: RunStore, backend: GatesAPI, profile: str, gate_id: str, answer: GateAnswer
) -> AnswerOutcome:
    """Claim the gate in the registry, resume the backend, and record the outcome.

    The claim is what makes "answered at most once" hold whatever the backend does (some resume a run twice). A
    backend saying the gate is gone closes it; any other failure puts it back to open so it can be answered again.
    """
    # First: a gate that is no longer open says so, whatever the values.
    gate = await registry.claim_gate(profile, gate_id, lease_seconds=(budget.remaining() or 0.0) + _LEASE_MARGIN)
    try:
        if not gate.resolvable:
            raise GateError("This gate can only be decided in the backend's own interface; runbridge cannot answer it.")
        if answer.decision == "accept":
            answer = GateAnswer(decision="accept", values=validate_values(gate, answer.values))
    except GateError:
        await registry.finish_gate(profile, gate_id, "open")
        raise
    try:
        await locate(registry, profile, backend, gate.run_id)  # after a restart, the adapter finds the gate's run
        response = await backend.resolve_gate(gate, answer)
    except GateError as exc:
        await registry.finish_gate(profile, gate_id, "closed" if exc.closed else "open")
        raise
    except BaseException:
        # A failure that may pass (timeout, 5xx, 429, bad credentials) or a cancel mid-answer: we cannot tell
        # whether the backend took it, so the gate stays answerable; the backend refuses a true duplicate.
        await registry.finish_gate(profile, gate_id, "open")
        raise
    resumed = bool(response.get("resolved", True))
    decision = _decision(gate, answer, response)
    waiting = response.get("gate") if response.get("pending") else None
    if isinstance(waiting, Gate):
        # The backend took the answer and still waits on this gate: it stays open, showing where it now stands.
        await registry.update_gate(profile, waiting)
        await registry.finish_gate(profile, gate_id, "open", decision)
        note = response.get("note")
        return AnswerOutcome(resumed=False, decision=decision, waiting=waiting, note=str(note) if note else None)
    await registry.finish_gate(
        profile, gate_id, ("answered" if answer.decision == "accept" else "declined") if resumed else "open", decision
    )
    return AnswerOutcome(resumed=resumed, decision=decision)
