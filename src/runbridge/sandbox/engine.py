"""The scripted engine: runs workflows as anyio tasks and keeps each run's log, wire-neutral.

The engine lives on one event loop (the sandbox server's); every method is called from that loop. Runs are tasks
in the engine's task group (`async with Engine() as engine:`), each inside its own cancel scope so that `cancel`
stops it wherever it waits. The log is the source of truth: subscribers read it with `events_after`, late ones get
the backlog first, and everyone sleeps on one shared event between appends (no polling).
"""

from __future__ import annotations

import math
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, Literal, Self, cast

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup

from .answers import check_answer
from .errors import (
    ForkInvalid,
    ForkUnsupported,
    GateAlreadyResolved,
    GateCancelled,
    GateNotFound,
    NotPaused,
    RunNotFound,
    RunTerminal,
    WorkflowNotFound,
)
from .events import EngineEvent, RunStatus, iso_now
from .execution import drive
from .forks import replay_prefix
from .model import Workflow
from .runs import RunRecord
from .stats import Stats
from .workflows import EXAMPLE_WORKFLOWS

__all__ = ["AnswerResult", "Engine", "ForkMode"]

ForkMode = Literal["branch", "replay"]


@dataclass(frozen=True)
class AnswerResult:
    """What `answer_gate` did: the status before the answer (some hosts report it) and the outcome."""

    run_id: str
    node_id: str
    interrupt_id: str
    status_before: RunStatus
    outcome: str
    value: Any


class Engine:
    """Deterministic workflow runner shared by every wire family of one sandbox server.

    `speed` scales step delays (a delay of d seconds sleeps d / speed); `speed <= 0` or infinity means no delays at
    all, which is what tests use. Counters go to `stats`.
    """

    def __init__(
        self,
        workflows: Mapping[str, Workflow] | Iterable[Workflow] | None = None,
        *,
        speed: float = 0.0,
        stats: Stats | None = None,
        run_id_prefix: str | None = None,
    ) -> None:
        source = EXAMPLE_WORKFLOWS if workflows is None else workflows
        items = source.values() if isinstance(source, Mapping) else source
        self.workflows: dict[str, Workflow] = {w.id: w for w in items}
        self.speed = speed
        self.stats = stats if stats is not None else Stats()
        # A short random prefix keeps ids from two sandbox sessions apart while the counter keeps them readable.
        self._prefix = run_id_prefix or f"run_{secrets.token_hex(2)}"
        self._counter = 0
        self._runs: dict[str, RunRecord] = {}
        self._tg: TaskGroup | None = None
        self._stack: AsyncExitStack | None = None

    async def __aenter__(self) -> Self:
        self._stack = AsyncExitStack()
        self._tg = await self._stack.enter_async_context(anyio.create_task_group())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._tg is not None
        assert self._stack is not None
        self._tg.cancel_scope.cancel()
        tg_stack, self._stack, self._tg = self._stack, None, None
        await tg_stack.aclose()

    # -- workflows and runs ------------------------------------------------------------------------------------

    def register(self, workflow: Workflow) -> None:
        """Add or replace a workflow."""
        self.workflows[workflow.id] = workflow

    def workflow(self, workflow_id: str) -> Workflow:
        try:
            return self.workflows[workflow_id]
        except KeyError:
            raise WorkflowNotFound(f"Workflow {workflow_id!r} not found.") from None

    def get_run(self, run_id: str) -> RunRecord:
        try:
            return self._runs[run_id]
        except KeyError:
            raise RunNotFound(f"Run {run_id!r} not found.") from None

    def runs(self) -> list[RunRecord]:
        return list(self._runs.values())

    def start_run(
        self, workflow_id: str, inputs: Mapping[str, Any] | None = None, *, meta: Mapping[str, Any] | None = None
    ) -> RunRecord:
        """Create a run (status `pending`) and schedule it. `inputs["_sandbox"]` carries per-run sandbox knobs."""
        workflow = self.workflow(workflow_id)
        inputs = dict(inputs or {})
        raw_options = inputs.pop("_sandbox", None)
        options = cast(dict[str, Any], raw_options) if isinstance(raw_options, dict) else {}
        run = self._new_run(workflow, inputs, options=options, meta=meta)
        self.stats.incr("runs_created")
        self._spawn(run, 0)
        return run

    def _new_run(
        self,
        workflow: Workflow,
        inputs: Mapping[str, Any],
        *,
        options: Mapping[str, Any],
        meta: Mapping[str, Any] | None,
    ) -> RunRecord:
        self._counter += 1
        limit = options.get("max_cost_usd", workflow.max_cost_usd)
        run = RunRecord(
            f"{self._prefix}{self._counter:04d}",
            workflow,
            inputs,
            options=options,
            meta=meta,
            max_cost_usd=float(limit) if isinstance(limit, int | float) else None,
        )
        self._runs[run.id] = run
        return run

    def start_soon(self, fn: Callable[..., Coroutine[Any, Any, Any]], *args: Any, name: str | None = None) -> None:
        """Run `fn(*args)` in the background on the engine's loop, for as long as the server runs (a wire family
        that executes its own runs, as the LangGraph sandbox does)."""
        if self._tg is None:
            raise RuntimeError("The engine is not running: use `async with engine:` (or a SandboxServer).")
        self._tg.start_soon(fn, *args, name=name)

    def _spawn(self, run: RunRecord, start_at: int) -> None:
        if self._tg is None:
            raise RuntimeError("The engine is not running: use `async with engine:` (or a SandboxServer).")
        self._tg.start_soon(drive, run, start_at, self._pause, name=f"sandbox run {run.id}")

    # -- subscribers -------------------------------------------------------------------------------------------

    async def events_after(self, run_id: str, after_seq: int = -1) -> AsyncIterator[EngineEvent]:
        """The run's events with `seq > after_seq`: the stored ones, then live ones; ends after a terminal event."""
        run = self.get_run(run_id)
        index = max(after_seq + 1, 0)
        while True:
            while index < len(run.events):
                event = run.events[index]
                index += 1
                yield event
                if event.terminal:
                    return
            if run.events and run.events[-1].terminal:
                return
            await run.wait_beyond(index)

    # -- execution ---------------------------------------------------------------------------------------------

    async def _pause(self, seconds: float) -> None:
        if seconds <= 0 or self.speed <= 0 or math.isinf(self.speed):
            # Still a checkpoint: a 55-step run must not hog the loop, and cancellation must land here.
            await anyio.lowlevel.checkpoint()
            return
        await anyio.sleep(seconds / self.speed)

    # -- steering ----------------------------------------------------------------------------------------------

    def answer_gate(self, run_id: str, node_id: str, value: Any, *, interrupt_id: str | None = None) -> AnswerResult:
        """Resolve the gate open at `node_id` with a neutral answer (see `answers`); the run continues at once."""
        run = self.get_run(run_id)
        gate = run.gate
        if gate is None or gate.node_id != node_id:
            if node_id in run.cancelled_gate_nodes:
                raise GateCancelled(f"The run was cancelled; the gate at {node_id!r} is closed.")
            if node_id in run.resolved_nodes:
                raise GateAlreadyResolved(f"The gate at {node_id!r} was already resolved.")
            raise GateNotFound(f"No open interrupt at node {node_id!r}.")
        if interrupt_id is not None and interrupt_id != gate.interrupt_id:
            raise GateAlreadyResolved(f"Interrupt {interrupt_id!r} was already resolved.")
        normalised, outcome = check_answer(gate.spec, value)
        before = run.status
        run.gate = None
        run.resolved_nodes.add(node_id)
        run.status = "running"
        run.node_states[node_id] = "running"
        gate.value, gate.outcome = normalised, outcome
        step = run.workflow.steps[run.workflow.index_of(node_id)]
        run.append(
            "gate.resolved",
            {
                "interrupt_id": gate.interrupt_id,
                "kind": gate.spec.kind,
                "key": gate.key,
                "value": normalised,
                "outcome": outcome,
                "resolved_at": iso_now(),
            },
            step,
        )
        gate.answered.set()
        self.stats.incr("resolves")
        return AnswerResult(run.id, node_id, gate.interrupt_id, before, outcome, normalised)

    def pause(self, run_id: str) -> RunStatus:
        """An operator's pause: the run stops before its next step (`run.paused`) until `resume`; pausing a paused
        run is a no-op. A run waiting at a gate pauses once the gate is answered."""
        run = self.get_run(run_id)
        if run.finished:
            raise RunTerminal(f"Run {run_id!r} already {run.status}.")
        if not run.pause_requested:
            run.pause_requested, run.resumed = True, anyio.Event()
        return "paused"

    def resume(self, run_id: str) -> RunStatus:
        """Lift a pause (`run.resumed`, then the next step); NotPaused when the run is not paused."""
        run = self.get_run(run_id)
        if run.finished:
            raise RunTerminal(f"Run {run_id!r} already {run.status}.")
        if not run.pause_requested:
            raise NotPaused(f"Run {run_id!r} is not paused.")
        run.pause_requested = False
        run.resumed.set()
        return "running"

    def cancel(self, run_id: str, reason: str | None = None) -> RunStatus:
        """Cancel a pending, running or suspended run; cancelling a cancelled run is a no-op."""
        run = self.get_run(run_id)
        if run.status == "cancelled":
            return "cancelled"
        if run.finished:
            raise RunTerminal(f"Run {run_id!r} already {run.status}.")
        if run.gate is not None:
            run.cancelled_gate_nodes.add(run.gate.node_id)
            run.gate = None
        if run.current_step and run.node_states.get(run.current_step) in ("running", "suspended"):
            run.node_states[run.current_step] = "cancelled"
        run.status = "cancelled"
        run.completed_at = iso_now()
        run.append("run.cancelled", {"reason": reason, "duration_ms": run.duration_ms()})
        run.scope.cancel()
        self.stats.incr("cancels")
        return "cancelled"

    def fork(
        self,
        run_id: str,
        *,
        from_seq: int | None = None,
        mode: ForkMode = "branch",
        meta: Mapping[str, Any] | None = None,
    ) -> RunRecord:
        """A new run from another one's log.

        `branch` copies the source's events up to `from_seq` (default: its last non-terminal event) and runs the
        steps that had not completed by then. `replay` re-runs the workflow from the start with the same inputs and
        accepts only `from_seq` 0 (ForkUnsupported otherwise, as the one real host that forks does).
        """
        source = self.get_run(run_id)
        if mode not in ("branch", "replay"):
            raise ForkInvalid(f"mode must be 'branch' or 'replay', not {mode!r}.")
        meta = meta if meta is not None else source.meta
        if mode == "replay":
            if from_seq not in (None, 0):
                raise ForkUnsupported(f"Replay forks start at sequence 0 only, not {from_seq}.")
            run = self._new_run(source.workflow, source.inputs, options=source.options, meta=meta)
            self._mark_fork(run, source, mode, 0)
            self._spawn(run, 0)
            return run
        prefix = [e for e in source.events if not e.terminal]
        if not prefix:
            raise ForkInvalid(f"Run {run_id!r} has no events to fork from yet.")
        last = prefix[-1].seq
        from_seq = last if from_seq is None else from_seq
        if not 0 <= from_seq <= last:
            raise ForkInvalid(f"fromSeq must be between 0 and {last}, not {from_seq}.")
        run = self._new_run(source.workflow, source.inputs, options=source.options, meta=meta)
        self._mark_fork(run, source, mode, from_seq)
        done = replay_prefix(run, prefix[: from_seq + 1])
        start_at = next((i for i, s in enumerate(run.workflow.steps) if s.id not in done), run.step_total)
        self._spawn(run, start_at)
        return run

    def _mark_fork(self, run: RunRecord, source: RunRecord, mode: ForkMode, from_seq: int) -> None:
        run.source_run_id, run.fork_mode, run.fork_from_seq = source.id, mode, from_seq
        self.stats.incr("forks")
