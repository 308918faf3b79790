"""`next` offers only the run actions the backend takes (`offered_actions`, `RunActionsAPI`), and progress never
exceeds the total it is sent with; a backend's raw event name reads as words."""

from __future__ import annotations

from itertools import pairwise
from typing import Literal

import anyio

from runbridge.bridge.actions import offered_actions
from runbridge.bridge.progress import ProgressReporter, describe, words
from runbridge.bridge.results import next_step
from runbridge.core.config import Profile, Settings
from runbridge.core.models import EventKind, Run, RunEvent, RunStatus, StepRef


class _Backend:
    """Runs, cancel and fork, with what its backend says it will take."""

    family = "fake"

    def __init__(self, *, cancel: bool = True, fork: bool = True) -> None:
        self.takes = {"cancel": cancel, "fork": fork}

    async def aclose(self) -> None: ...
    async def start_run(self, request: object) -> Run: ...  # type: ignore[empty-body]
    async def get_run(self, run_id: str) -> Run: ...  # type: ignore[empty-body]
    def watch(self, run_id: str, *, cursor: str | None = None) -> object: ...
    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run: ...  # type: ignore[empty-body]
    async def fork_run(self, run_id: str, *, from_seq: int | None = None, mode: str = "branch") -> Run: ...  # type: ignore[empty-body]

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        return self.takes[action]


def _settings(**server: object) -> Settings:
    profile = Profile(name="p", family="openwop", base_url="http://127.0.0.1:9", workflows=["w"])
    return Settings(profiles={"p": profile}, state_path=":memory:", **server)  # type: ignore[arg-type]


RUNNING = Run(run_id="r1", status=RunStatus.RUNNING)
DONE = Run(run_id="r1", status=RunStatus.COMPLETED)


def test_next_offers_fork_and_cancel_only_where_the_backend_takes_them() -> None:
    settings = _settings()
    both = offered_actions(settings, _Backend(), RUNNING)
    assert both == {"cancel", "fork"}
    assert "runs_cancel" in next_step("r1", done=False, offers=both)
    assert "runs_fork" in next_step("r1", done=True, offers=offered_actions(settings, _Backend(), DONE))
    no_cancel = offered_actions(settings, _Backend(cancel=False), RUNNING)
    assert "runs_cancel" not in next_step("r1", done=False, offers=no_cancel)
    assert "runs_cancel" not in next_step("r1", done=False, status=RunStatus.PAUSED, offers=no_cancel)
    no_fork = offered_actions(settings, _Backend(fork=False), DONE)
    assert "runs_fork" not in next_step("r1", done=True, offers=no_fork)
    assert offered_actions(settings, _Backend(), DONE) == {"fork"}, "an ended run is not cancelled"


def test_read_only_mode_offers_neither_and_a_backend_without_fork_is_not_offered_fork() -> None:
    assert offered_actions(_settings(read_only=True), _Backend(), RUNNING) == frozenset()

    class _NoFork:
        family = "fake"

        async def aclose(self) -> None: ...
        async def start_run(self, request: object) -> Run: ...  # type: ignore[empty-body]
        async def get_run(self, run_id: str) -> Run: ...  # type: ignore[empty-body]
        def watch(self, run_id: str, *, cursor: str | None = None) -> object: ...
        async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run: ...  # type: ignore[empty-body]

    assert offered_actions(_settings(), _NoFork(), DONE) == frozenset()
    assert offered_actions(_settings(), _NoFork(), RUNNING) == {"cancel"}


def test_raw_event_names_read_as_words() -> None:
    assert words("memory.written") == "memory written"
    assert words("transform_result") == "transform result"
    assert words("agent.toolCalled") == "agent tool called"
    event = RunEvent(kind=EventKind.LOG, raw_type="memory.written", seq="7", run_id="r", text="memory.written")
    assert describe(event) == "memory written"
    stepped = event.model_copy(update={"step": StepRef(id="c", name="C", index=3, total=3)})
    assert describe(stepped) == "step 3/3 C: memory written"


def test_counting_before_the_total_is_known_never_sends_a_value_above_it() -> None:
    async def run() -> list[tuple[float, float | None, str]]:
        sent: list[tuple[float, float | None, str]] = []

        async def send(value: float, total: float | None, message: str) -> None:
            sent.append((value, total, message))

        reporter = ProgressReporter(send, interval=0)
        await reporter.on_event(RunEvent(kind=EventKind.RUN_STARTED, raw_type="run.started", seq="0", run_id="r"))
        one = StepRef(id="fail", name="Fail", index=1, total=1)
        for kind in (EventKind.STEP_STARTED, EventKind.STEP_FAILED, EventKind.RUN_FAILED):
            await reporter.on_event(RunEvent(kind=kind, raw_type=kind.value, seq="1", run_id="r", step=one))
        return sent

    sent = anyio.run(run)
    assert all(total is None or value <= total for value, total, _ in sent), sent
    assert all(a[0] < b[0] for a, b in pairwise(sent)), sent


def test_a_total_known_from_the_first_event_ends_exactly_on_it() -> None:
    async def run() -> list[tuple[float, float | None, str]]:
        sent: list[tuple[float, float | None, str]] = []

        async def send(value: float, total: float | None, message: str) -> None:
            sent.append((value, total, message))

        reporter = ProgressReporter(send, interval=0)
        total = StepRef(total=1)
        await reporter.on_event(
            RunEvent(kind=EventKind.RUN_STARTED, raw_type="run.started", seq="0", run_id="r", step=total)
        )
        one = StepRef(id="fail", name="Fail", index=1, total=1)
        for kind in (EventKind.STEP_STARTED, EventKind.STEP_FAILED):
            await reporter.on_event(RunEvent(kind=kind, raw_type=kind.value, seq="1", run_id="r", step=one))
        await reporter.on_event(
            RunEvent(kind=EventKind.RUN_FAILED, raw_type="run.failed", seq="3", run_id="r", step=total)
        )
        return sent

    sent = anyio.run(run)
    assert [t for _, t, _ in sent] == [1.0] * 4
    assert all(v < 1 for v, _, _ in sent[:-1])
    assert sent[-1][0] == 1.0
    assert sent[0][2] == "run started", "a step ref with only a total names no step"
