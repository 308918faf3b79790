"""The Synapse orchestrations adapter: catalogue, runs (streamed, synchronous, or queued on v2), gates, usage
(docs/backends/orchestrations.md).

Profile options (`[profiles.NAME.options]`):

* `api_versions` (default `["v1"]`): `["v1", "v2"]` when the server runs in scale mode; runs are then queued on
  v2, followed on its re-attachable stream, read with its status endpoint, and can be cancelled.
* `stream` (default true): on v1, start and resume runs with `/run/stream` and `/resume/stream`, read in the
  background by the server's task group. `false`, or an adapter built without a task group (a script, a test),
  uses the synchronous `/run` and `/resume`: each call then returns only once the run pauses at a gate or ends.

v1 has neither a run status nor a cancel (docs/backends/orchestrations.md), so for v1 runs `get_run` answers from what
this adapter saw (`unknown` for a run it has not seen since it started: the bridge's record of the run then stands), and
a cancel abandons a run waiting at a gate: runbridge never resumes it, and the server still shows it paused. A running
v1 run cannot be cancelled at all, and `offers` says so, so that no result suggests it. v1 does not check a
run's status when it is resumed either: this adapter refuses to resume a gate twice, a run that has moved on, or a
run that ended or was cancelled, on top of the registry's own answer-once rule.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

from anyio.abc import TaskGroup

from ...core.config import Profile
from ...core.errors import BackendTimeoutError, GateError, NotFoundError, RunbridgeError, UnsupportedError
from ...core.models import Gate, GateAnswer, Page, Run, RunEvent, RunStatus, StartRequest, StepRef, Target
from ...core.protocols import EventPage, StreamKeeper
from ...http import HttpClient, segment
from .._runlog import follow_log, log_page
from .events import EventMapper
from .gates import resume_body
from .spec import OrchestrationsOptions
from .v1 import LOST_V1, RunLog, V1Runs
from .v2 import V2Runs, scale_mode_off
from .wire import api_path, as_dict, target_of_run_id

__all__ = ["OrchestrationsBackend"]

_NOT_ATTACHABLE = (
    "runbridge has no event stream for run {run_id}: it was started before runbridge restarted, or elsewhere, and "
    "Synapse v1 cannot re-attach to a run's events. If the run waits at a human gate, answer it with gates_respond: "
    "the resume streams the rest of the run."
)


class OrchestrationsBackend:
    """Implements `TargetsAPI`, `RunsAPI` and `GatesAPI` for one Synapse server."""

    family = "orchestrations"

    def __init__(self, profile: Profile, http: HttpClient | None = None, *, tasks: TaskGroup | None = None) -> None:
        self.profile = profile
        options = profile.typed_options(OrchestrationsOptions)
        self.v2 = "v2" in options.api_versions
        self.http = http or HttpClient(profile)
        self.http.permanent = scale_mode_off
        self.streamed = options.stream and tasks is not None
        self._v1 = V1Runs(self.http, tasks)
        self._v2 = V2Runs(self.http)
        self._logs: dict[str, RunLog] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    def keep_streams(self, keeper: StreamKeeper) -> bool:
        """v1 streamed runs: `keeper` hears of each stream this process reads, and of its events as they arrive
        (no other process can read them). v2 runs are re-attached from anywhere; synchronous v1 runs arrive in
        one answer to the call that follows them."""
        if self.v2 or not self.streamed:
            return False
        self._v1.keeper = keeper
        return True

    def reads_here(self, run_id: str) -> bool:
        return run_id in self._logs

    # -- targets ------------------------------------------------------------------------------------------------

    async def list_targets(self, *, cursor: str | None = None, limit: int = 50) -> Page[Target]:
        """`GET /orchestrations`: a bare array in which `steps` is a count; paged here by offset."""
        docs = await self.http.json("GET", api_path("v1", "/orchestrations"), action="list the orchestrations")
        items = [as_dict(d) for d in docs if as_dict(d).get("id")] if isinstance(docs, list) else []
        start = Page[Target].start_of(cursor)
        targets = [
            Target(
                id=str(d["id"]),
                name=str(d["name"]) if d.get("name") else None,
                kind="orchestration",
                description=str(d["description"]) if d.get("description") else None,
                step_count=d["steps"] if isinstance(d.get("steps"), int) else None,
            )
            for d in items[start : start + limit]
        ]
        more = start + limit < len(items)
        return Page[Target].of(targets, str(start + limit) if more else None, total=len(items))

    async def describe_target(self, target_id: str) -> Target:
        """`GET /orchestrations/{id}`: the steps in order, with their labels and types. Read afresh each time (it is
        small): an orchestration edited on the server has other steps, and another count, from then on.

        Synapse 1.9.2 sends an empty `label` for every step (it stores the name as `name`): such a step takes the
        name the events of this orchestration's runs gave it, and has none (never its id) before any run did."""
        doc = as_dict(
            await self.http.json(
                "GET",
                api_path("v1", f"/orchestrations/{segment(target_id)}"),
                action=f"describe orchestration {target_id!r}",
            )
        )
        raw_steps = [as_dict(s) for s in doc.get("steps") or [] if as_dict(s).get("id")]
        seen = {k: v for log in self._logs.values() if log.target_id == target_id for k, v in log.mapper.names.items()}
        steps = [
            StepRef(
                id=str(s["id"]),
                name=str(s.get("label") or s.get("name") or seen.get(str(s["id"]), "")) or None,
                index=i + 1,
            )
            for i, s in enumerate(raw_steps)
        ]
        types = {str(s["id"]): s.get("type") for s in raw_steps}
        target = Target(
            id=str(doc.get("id") or target_id),
            name=str(doc["name"]) if doc.get("name") else None,
            kind="orchestration",
            description=str(doc["description"]) if doc.get("description") else None,
            steps=steps or None,
            step_count=len(steps) or None,
            input_schema={"type": "object", "properties": {"message": {"type": "string"}}},
            details={"step_types": types, "edges": doc.get("edges") or []},
        )
        return target

    async def _steps(self, target_id: str | None) -> list[StepRef] | None:
        """The orchestration's steps, for step names and "step 2/5" (best effort: a run goes on without them)."""
        if not target_id:
            return None
        try:
            return (await self.describe_target(target_id)).steps
        except RunbridgeError:
            return None

    def _new_log(self, target_id: str | None, steps: list[StepRef] | None, *, base: int = 0) -> Callable[[str], RunLog]:
        """A maker of run logs for runs of `target_id`, registered under their run ids as they are named."""

        def make(run_id: str) -> RunLog:
            mapper = EventMapper(run_id, steps=steps, target_id=target_id)
            log = self._logs[run_id] = RunLog(run_id, mapper, target_id=target_id, base=base, lost=LOST_V1)
            return log

        return make

    # -- runs ---------------------------------------------------------------------------------------------------

    async def start_run(self, request: StartRequest) -> Run:
        """Start a run. Synapse takes one text, `message`: the request's message, else `inputs["message"]`, else
        the inputs as JSON (the orchestration's first step reads it as its input)."""
        inputs = request.inputs
        message: Any = request.message
        if message is None:
            message = inputs.get("message", json.dumps(inputs) if inputs else "")
        body: dict[str, Any] = {"message": message if isinstance(message, str) else json.dumps(message)}
        target = request.target_id
        if self.v2:
            run = await self._v2.start(target, body)
            self._new_log(target, None)(run.run_id)  # the guard and the last gate seen, for resume and cancel
            return run
        steps = await self._steps(target)
        if self.streamed:
            log = await self._v1.start_streamed(target, body, self._new_log(target, steps))
        else:
            log = await self._v1.start_sync(target, body, self._new_log(target, steps))
        return self._run_of(log)

    async def get_run(self, run_id: str) -> Run:
        log = self._logs.get(run_id)
        if self.v2:
            run = await self._v2.get(run_id, gate=log.open_gate if log else None)
            if log is not None and log.cancelled and not run.status.terminal:
                run = run.model_copy(update={"status": RunStatus.CANCELLED})
            return run
        if log is None:
            return Run(
                run_id=run_id,
                target_id=target_of_run_id(run_id),
                status=RunStatus.UNKNOWN,
                details={"source": "none: Synapse v1 has no run status and runbridge has not followed this run"},
            )
        return self._run_of(log)

    def _run_of(self, log: RunLog) -> Run:
        """A v1 run as this adapter saw it (Synapse v1 has no run status to ask): unknown once its stream is lost."""
        status = RunStatus.CANCELLED if log.cancelled else log.status
        if log.broken and not log.streaming and not status.terminal:
            status = RunStatus.UNKNOWN
        details: dict[str, Any] = {
            "source": "runbridge's own record of the run's events (Synapse v1 has no run status)",
            "step_history": log.step_history,
            "events": len(log.events),
            "stream": "lost" if log.broken else "open" if log.streaming else "closed",
        }
        if log.abandoned is not None:
            details["note"] = log.abandoned
        return Run(
            run_id=log.run_id,
            target_id=log.target_id,
            status=status,
            raw_status="paused" if log.open_gate is not None or log.abandoned_at_gate else None,
            outputs=log.outputs,
            error=log.error,
            usage=log.usage,
            current_step=log.current_step,
            open_gate=None if log.cancelled else log.open_gate,
            details=details,
        )

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        log = self._logs.get(run_id)
        if self.v2:
            target = log.target_id if log else target_of_run_id(run_id)
            mapper = EventMapper(run_id, steps=await self._steps(target), target_id=target)
            async for event in self._v2.watch(run_id, mapper, cursor=cursor):
                if log is not None:
                    log.observe(event)
                yield event
            return
        if log is None:
            raise UnsupportedError(_NOT_ATTACHABLE.format(run_id=run_id))
        async for event in follow_log(log, cursor):
            yield event

    async def event_page(self, run_id: str, *, cursor: str | None = None) -> EventPage | None:
        """v1: the events this adapter logged for the run (its only record of them), at once. v2, or a run it never
        followed: None (the events are read from the stream, or refused as `watch` refuses them)."""
        log = self._logs.get(run_id)
        if self.v2 or log is None:
            return None
        return log_page(log, cursor)

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        """v2: cancel on the server. v1 has no cancel: a run waiting at a gate is abandoned (runbridge never resumes
        it; the server still shows it paused), a running one cannot be stopped, and the note says which."""
        log = self._logs.get(run_id)
        if self.v2:
            run = await self._v2.cancel(run_id)
            if log is not None:
                log.cancelled = True
            return run
        if log is not None and (log.cancelled or log.ended):
            return self._run_of(log)  # nothing to do: the bridge says it was already cancelled, or already over
        if log is not None and log.open_gate is None:
            raise UnsupportedError(
                f"Synapse v1 cannot cancel a running orchestration: run {run_id} goes on to its end, or to its next "
                "human gate, where runs_cancel can abandon it. runbridge has not stopped it. To cancel running "
                'orchestrations, run the server in scale mode and add "v2" to the profile\'s options.api_versions.'
            )
        if log is None:
            # runbridge restarted since it followed this run (its record says it waits at a gate): Synapse v1 cannot
            # say where the run is, so it is abandoned as it stands.
            log = self._new_log(target_of_run_id(run_id), None)(run_id)
            where = "a run that waits at a human gate stays paused there"
        else:
            gate = log.open_gate
            step = gate.step.name if gate is not None and gate.step is not None and gate.step.name else None
            where = f"it still shows the run paused at its gate{f' ({step})' if step else ''}"
        note = (
            "runbridge will never resume this run. Synapse v1 has no cancel, so the run was not stopped on the "
            f"server: {where}, until someone resumes it there."
        )
        log.abandon(note, text="run abandoned at its gate (Synapse v1 has no cancel)")
        return self._run_of(log)

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        """v2 cancels any run. v1 has no cancel: runbridge can only abandon a run that waits at a gate, so `next`
        never suggests runs_cancel for a running v1 run. Synapse has no fork."""
        if action != "cancel":
            return False
        if self.v2:
            return True
        log = self._logs.get(run.run_id)
        if log is None:
            return run.status is RunStatus.WAITING
        return log.open_gate is not None and not log.ended and not log.cancelled

    # -- gates --------------------------------------------------------------------------------------------------

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]:
        body = resume_body(gate, answer)
        if body is None:
            return {"resolved": False}
        log = self._logs.get(gate.run_id)
        if log is None:  # answered after a restart: the resume's stream goes into a new log
            target = gate.resume.get("target_id") or target_of_run_id(gate.run_id)
            seq = gate.resume.get("seq")
            base = int(seq) if isinstance(seq, str) and seq.isdigit() else 0
            log = self._new_log(target, await self._steps(target), base=base)(gate.run_id)
            log.open_gate = gate
        self._guard(log, gate)
        log.answered.add(gate.gate_id)
        try:
            if self.v2:
                await self._v2.resume(gate.run_id, body)
                log.open_gate = None
            elif self.streamed:
                await self._v1.resume_streamed(log, gate, body)
            else:
                await self._v1.resume_sync(log, gate, body)
        except BackendTimeoutError:
            raise  # the server may have taken it: the guard stays, so it is never sent twice
        except NotFoundError:
            raise GateError("The run no longer exists on the server.", closed=True) from None
        except BaseException:
            log.answered.discard(gate.gate_id)  # refused or never sent: it may be answered again
            raise
        return {"resolved": True}

    def _guard(self, log: RunLog, gate: Gate) -> None:
        """Refuse what the server would wrongly accept (docs/backends/orchestrations.md: resume does not check the
        run)."""
        if log.cancelled:
            raise GateError("The run was cancelled; its gate can no longer be answered.", closed=True)
        if log.ended:
            raise GateError(f"The run already {log.status.value}; its gate can no longer be answered.", closed=True)
        if gate.gate_id in log.answered:
            raise GateError("This gate was already answered; runbridge never resumes a run twice.", closed=True)
        if log.open_gate is not None and log.open_gate.gate_id != gate.gate_id:
            raise GateError("The run has moved past this gate; it waits at another one now.", closed=True)
        if log.open_gate is None and not self.v2:
            raise GateError("The run is not waiting at this gate (it has not reached it yet).")
