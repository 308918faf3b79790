"""`ProgressReporter`: backend events become monotonic, coalesced, readable progress notifications."""

from __future__ import annotations

from itertools import pairwise

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from runbridge.bridge.progress import ProgressReporter, describe
from runbridge.core.models import EventKind, RunEvent, StepRef

pytestmark = pytest.mark.anyio

Sent = list[tuple[float, float | None, str]]


class Clock:
    """A fake monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _event(kind: EventKind, index: int | None = None, total: int | None = None, text: str = "") -> RunEvent:
    step = StepRef(id=f"s{index}", name=f"Item {index}", index=index, total=total) if index else None
    return RunEvent(kind=kind, raw_type=kind.value, seq="", run_id="run_1", step=step, text=text or kind.value)


def _steps(count: int, *, total: int | None = None) -> list[RunEvent]:
    events = [_event(EventKind.RUN_STARTED, text="run started")]
    for i in range(1, count + 1):
        events += [
            _event(EventKind.STEP_STARTED, i, total, f"Item {i} started"),
            _event(EventKind.USAGE, i, total, "sandbox-1: 70 tokens"),
            _event(EventKind.STEP_COMPLETED, i, total, f"Item {i} done"),
        ]
    return [*events, _event(EventKind.RUN_COMPLETED, text="run completed")]


def _reporter(sent: Sent, clock: Clock, **kwargs: object) -> ProgressReporter:
    async def send(value: float, total: float | None, message: str) -> None:
        sent.append((value, total, message))

    return ProgressReporter(send, clock=clock, **kwargs)  # type: ignore[arg-type]


async def test_every_event_is_a_strictly_increasing_notification_that_ends_exactly_on_the_total() -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=0)
    for event in _steps(5, total=5):
        await reporter.on_event(event)
    values = [v for v, _, _ in sent]
    assert len(sent) == 1 + 3 * 5 + 1
    assert all(a < b for a, b in pairwise(values))
    assert all(v < 5 for v in values[:-1]), "the total is reached only when the run ends"
    assert sent[-1] == (5.0, 5.0, "run completed")
    assert sent[1] == (sent[1][0], 5.0, "step 1/5 Item 1: started")
    assert sent[3][2] == "step 1/5 Item 1: done"
    assert reporter.events == reporter.notifications == len(sent)


async def test_a_known_step_total_counts_whole_steps_as_they_complete() -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=0, step_total=4)
    for event in _steps(4)[:-1]:
        await reporter.on_event(event)
    completed = [v for v, _, m in sent if m.endswith("done")]
    assert [int(v) for v in completed] == [1, 2, 3, 3], "the last step's end is not yet the run's end"
    assert completed[-1] < 4
    assert all(t == 4.0 for _, t, _ in sent)


async def test_without_a_total_progress_counts_events() -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=0)
    for text in ("one", "two", "three"):
        await reporter.on_event(_event(EventKind.LOG, text=text))
    assert sent == [(1.0, None, "one"), (2.0, None, "two"), (3.0, None, "three")]


async def test_bursts_are_coalesced_to_the_latest_message_until_the_interval_passes() -> None:
    sent: Sent = []
    clock = Clock()
    reporter = _reporter(sent, clock, interval=1.0)
    await reporter.on_event(_event(EventKind.STEP_STARTED, 1, 9, "Item 1 started"))
    await reporter.on_event(_event(EventKind.TOOL_CALLED, 1, 9, "calling search"))
    await reporter.on_event(_event(EventKind.TOOL_RESULT, 1, 9, "search returned"))
    assert [m for _, _, m in sent] == ["step 1/9 Item 1: started"]
    assert reporter.pending
    clock.now += 0.25
    assert reporter.flush_due_in() == pytest.approx(0.75)
    await reporter.on_event(_event(EventKind.MESSAGE_DELTA, 1, 9, "tok"))  # a token delta never displaces it
    clock.now += 0.75
    assert reporter.flush_due_in() == 0
    await reporter.flush()
    assert [m for _, _, m in sent] == ["step 1/9 Item 1: started", "step 1/9 Item 1: search returned"]
    assert not reporter.pending
    assert reporter.flush_due_in() is None
    assert reporter.events == 4
    assert reporter.notifications == 2


async def test_an_event_after_a_quiet_interval_goes_out_at_once() -> None:
    sent: Sent = []
    clock = Clock()
    reporter = _reporter(sent, clock, interval=1.0)
    await reporter.on_event(_event(EventKind.LOG, text="first"))
    clock.now += 1.0
    await reporter.on_event(_event(EventKind.LOG, text="second"))
    assert [m for _, _, m in sent] == ["first", "second"]
    assert not reporter.pending


@pytest.mark.parametrize(
    "kind", [EventKind.GATE_OPENED, EventKind.RUN_COMPLETED, EventKind.RUN_FAILED, EventKind.RUN_CANCELLED]
)
async def test_gates_and_the_end_of_the_run_flush_immediately_inside_the_interval(kind: EventKind) -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=60.0)
    await reporter.on_event(_event(EventKind.LOG, text="first"))
    await reporter.on_event(_event(EventKind.LOG, text="coalesced away"))
    await reporter.on_event(_event(kind, text="urgent"))
    assert [m for _, _, m in sent] == ["first", "urgent"]
    assert not reporter.pending, "the urgent message replaced the pending one"


async def test_a_heartbeat_repeats_the_last_message_and_still_increases() -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=0, step_total=3)
    await reporter.on_event(_event(EventKind.STEP_STARTED, 2, 3, "Item 2 started"))
    await reporter.heartbeat(12.7)
    await reporter.heartbeat(24.0)
    assert [m for _, _, m in sent] == [
        "step 2/3 Item 2: started",
        "step 2/3 Item 2: started (still running, quiet for 12s)",
        "step 2/3 Item 2: started (still running, quiet for 24s)",
    ]
    assert sent[0][0] < sent[1][0] < sent[2][0] < 2


async def test_a_heartbeat_before_any_event_says_running() -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=0)
    await reporter.heartbeat(10)
    assert sent == [(1.0, None, "running (still running, quiet for 10s)")]


async def test_progress_continues_above_the_start_floor_of_an_earlier_round() -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=0, start=7.5, step_total=10)
    assert reporter.last_value == 7.5
    await reporter.on_event(_event(EventKind.STEP_STARTED, 1, 10, "Item 1 started"))
    await reporter.note("accepted: resuming the run")
    await reporter.on_event(_event(EventKind.RUN_COMPLETED, text="run completed"))
    values = [v for v, _, _ in sent]
    assert values[0] > 7.5
    assert all(a < b for a, b in pairwise(values))
    assert sent[1][2] == "accepted: resuming the run"
    assert values[-1] == 10.0


async def test_a_floor_at_or_above_the_total_still_increases() -> None:
    sent: Sent = []
    reporter = _reporter(sent, Clock(), interval=0, start=3.0, step_total=3)
    await reporter.on_event(_event(EventKind.LOG, text="after the floor"))
    await reporter.on_event(_event(EventKind.RUN_COMPLETED, text="run completed"))
    assert sent[0][0] > 3.0
    assert sent[1][0] > sent[0][0]


@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(EventKind)),
            st.integers(min_value=0, max_value=12),
            st.sampled_from([0.0, 0.004, 0.02, 2.0]),
        ),
        max_size=60,
    ),
    st.sampled_from([0.0, 0.015, 1.0]),
    st.one_of(st.none(), st.integers(min_value=1, max_value=12)),
)
def test_any_sequence_of_events_heartbeats_and_flushes_gives_strictly_increasing_progress(
    script: list[tuple[EventKind, int, float]], interval: float, total: int | None
) -> None:
    async def run() -> tuple[Sent, int | None]:
        sent: Sent = []
        clock = Clock()
        reporter = _reporter(sent, clock, interval=interval, step_total=total)
        first_terminal: int | None = None
        for kind, index, advance in script:
            clock.now += advance
            if index == 0 and advance == 2.0:
                await reporter.heartbeat(advance)
            elif reporter.pending and reporter.flush_due_in() == 0:
                await reporter.flush()
            before = len(sent)
            await reporter.on_event(_event(kind, index or None, total, "x"))
            if kind.terminal and first_terminal is None:
                assert len(sent) == before + 1, "the end of a run is never coalesced away"
                first_terminal = before
        return sent, first_terminal

    sent, first_terminal = anyio.run(run)
    values = [v for v, _, _ in sent]
    assert all(a < b for a, b in pairwise(values))
    if total is not None:
        until = len(values) if first_terminal is None else first_terminal
        assert all(v < total for v in values[:until]), "the total is reached only when the run ends"
        if first_terminal is not None:
            assert values[first_terminal] == total


def test_describe_names_the_step_and_its_position() -> None:
    started = _event(EventKind.STEP_STARTED, 2, 5, "Item 2 started")
    assert describe(started) == "step 2/5 Item 2: started"
    event = RunEvent(
        kind=EventKind.TOOL_CALLED,
        raw_type="agent.toolCalled",
        seq="4",
        run_id="r",
        step=StepRef(id="research", name="Research", index=2),
        text="calling web_search",
    )
    assert describe(event, step_total=5) == "step 2/5 Research: calling web_search"
    assert describe(event) == "step 2 Research: calling web_search"
    long = event.model_copy(update={"text": "x " * 500})
    assert len(describe(long)) == 200
    assert describe(long).endswith("…")
