"""Putting a gate to the human the way the client allows, and acting on their answer (`GateAsker`)."""

from __future__ import annotations

from typing import Any

from mcp_types import InputRequiredResult

from ..core.config import Settings
from ..core.errors import GateError
from ..core.models import Gate
from ..core.protocols import GatesAPI, RunsAPI
from ..state import RunStore
from .answers import answer_gate
from .caller import Caller
from .following import FollowedRun
from .gates import answer_from_content
from .progress import ProgressReporter
from .results import RunReport

__all__ = ["GateAsker"]

Outcome = RunReport | InputRequiredResult | None
"""None: the gate was answered and following goes on; a report or an input request: the call stops here."""


class GateAsker:
    """The gates of one followed run, put to the human of one call. It changes the run only through what happened
    (`FollowedRun.waits_on`, `.resumed`)."""

    def __init__(self, run: FollowedRun, caller: Caller, backend: RunsAPI, store: RunStore, settings: Settings) -> None:
        self._run = run
        self._caller = caller
        self._backend = backend
        self._store = store
        self._settings = settings

    def _report(self) -> RunReport:
        return self._run.report(self._settings, self._backend)

    async def settled(self, gate: Gate) -> bool:
        """Whether runbridge already settled this gate (answered, declined or closed it)."""
        known = await self._store.get_gate(self._run.profile, gate.gate_id)
        return known is not None and known.state != "open"

    async def ask(self, gate: Gate, reporter: ProgressReporter) -> Outcome:
        """Put the gate to the human as the client allows."""
        if not gate.resolvable:
            await reporter.note(f"waiting for a decision in the backend's own UI: {gate.prompt}")
            return None
        channel = self._caller.channel()
        if channel == "input_required":
            self._run.waits_on(gate)
            return self._caller.input_required(
                gate, self._run.continuation(gate, reporter.last_value, reporter.step_total)
            )
        if channel == "none":
            self._run.waits_on(gate)
            return self._report()
        result = await self._caller.ask_live(gate)
        return await self.apply(gate, result.action, result.content, reporter)

    def ask_again(self, gate: Gate, why: str) -> InputRequiredResult:
        """A 2026 retry that did not answer the gate (no answer, or one that does not fit) is asked the same
        question again, the protocol's way, saying why; nothing was sent to the backend and the run still waits."""
        run = self._run
        run.waits_on(gate)
        return self._caller.input_required(gate, run.continuation(gate, run.progress_floor, run.step_total), again=why)

    async def apply(
        self, gate: Gate, action: str, content: dict[str, Any] | None, reporter: ProgressReporter | None
    ) -> Outcome:
        """Act on the human's elicitation answer. A 2026 retry whose answer does not fit is asked again."""
        run = self._run
        try:
            answer = answer_from_content(gate, action, content)
        except GateError as exc:  # the form came back with values the gate cannot take: nothing was sent
            if self._caller.channel() == "input_required" and not await self.settled(gate):
                return self.ask_again(gate, f"The answer did not fit the question: {exc} Please answer again.")
            run.waits_on(gate, f"The answer did not fit the question ({exc}); the gate stays open for gates_respond.")
            return self._report()
        if answer is None:
            note = "The question was dismissed without a decision; the gate stays open for gates_respond."
            run.waits_on(gate, note, decision="cancelled")
            return self._report()
        backend = self._backend
        assert isinstance(backend, GatesAPI)
        outcome = await answer_gate(self._store, backend, run.profile, gate.gate_id, answer)
        if outcome.waiting is not None:  # taken, and the backend still waits on this gate (a quorum short of votes)
            said = f"{outcome.decision}: {outcome.note or 'the backend still waits on this gate'}"
            note = f"{said}. The gate stays open for the next answer (gates_respond, or runs_watch to ask again)."
            run.waits_on(outcome.waiting, note, decision=outcome.decision)
            if reporter is not None:
                await reporter.note(said)
            return self._report()
        if not outcome.resumed:
            note = "The human declined; this gate has no reject action, so the run still waits on it."
            run.waits_on(gate, note, decision=outcome.decision)
            return self._report()
        said = run.resumed(outcome.decision)
        if reporter is not None:
            await reporter.note(said)
            run.told()
        return None
