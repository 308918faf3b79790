"""`FollowedRun`: what one call learns of the run it follows changes only through what happened to the run, and
the report says it."""

from __future__ import annotations

from runbridge.bridge.following import FollowedRun
from runbridge.core.config import Profile, Settings
from runbridge.core.models import EventKind, Gate, RunEvent, RunStatus, Usage

SETTINGS = Settings(
    profiles={"p": Profile(name="p", family="openwop", base_url="http://x.test")}, state_path=":memory:"
)
GATE = Gate(gate_id="g1", run_id="r1", kind="approval", prompt="Go?")


def _event(kind: EventKind, seq: str, **extra: object) -> RunEvent:
    return RunEvent(kind=kind, raw_type=kind.value, seq=seq, run_id="r1", **extra)  # type: ignore[arg-type]


def test_events_move_the_cursor_add_their_usage_and_wait_to_be_stored() -> None:
    run = FollowedRun("p", "r1", wait=5, events=2, cursor="2")
    run.saw(_event(EventKind.STEP_STARTED, "3", usage=Usage(total_tokens=10)))
    run.saw(_event(EventKind.STEP_COMPLETED, "", usage=Usage(total_tokens=5)))  # no sequence: the cursor stays
    assert (run.events, run.cursor) == (4, "3")
    assert run.usage is not None
    assert run.usage.total_tokens == 15
    assert len(run.take_unsaved()) == 2
    assert run.take_unsaved() == []


def test_a_failed_end_keeps_the_backends_message_and_code() -> None:
    run = FollowedRun("p", "r1", wait=5)
    run.ended_with(_event(EventKind.RUN_FAILED, "9", data={"error": {"message": "boom", "code": "E1"}}))
    report = run.report(SETTINGS, object())
    assert (report.status, report.done, report.error, report.error_code) == (RunStatus.FAILED, True, "boom", "E1")


def test_a_gate_left_open_is_named_and_an_answer_taken_clears_it_and_is_told_once() -> None:
    run = FollowedRun("p", "r1", wait=5, target_id="wf")
    run.waits_on(GATE, "the client cannot ask")
    report = run.report(SETTINGS, object())
    assert report.status is RunStatus.WAITING
    assert report.waiting_for is not None
    assert report.waiting_for.gate_id == "g1"
    assert run.resumed("rejected") == "rejected: the answer was sent; following the run"
    assert (run.status, run.waiting, run.decision) == (RunStatus.RUNNING, None, "rejected")
    run.told()
    assert run.said is None


def test_a_continuation_carries_what_a_retried_call_needs_to_go_on_with_the_same_run() -> None:
    run = FollowedRun("p", "r1", wait=7.5, cursor="12", target_id="wf", events=12)
    state = run.continuation(GATE, 0.4, 5)
    assert state == {
        "profile": "p",
        "run_id": "r1",
        "gate_id": "g1",
        "cursor": "12",
        "events": 12,
        "wait": 7.5,
        "target_id": "wf",
        "progress": 0.4,
        "step_total": 5,
    }
