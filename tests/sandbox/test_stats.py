"""The sandbox's stats stay bounded however long it serves, and the counters lose nothing."""

from __future__ import annotations

import pytest

from runbridge.sandbox.stats import Stats


def test_the_request_log_keeps_the_most_recent_answers_and_counts_the_rest() -> None:
    stats = Stats(log_size=3)
    for i in range(5):
        stats.request("GET /v1/runs/{run_id}")
        stats.response(200, route="GET /v1/runs/{run_id}", arrived=float(i))
    assert [e["at"] for e in stats.request_log()] == [2.0, 3.0, 4.0]
    snapshot = stats.snapshot()
    assert snapshot["requests"] == {"GET /v1/runs/{run_id}": 5}
    assert snapshot["statuses"] == {"200": 5}
    assert snapshot["log_dropped"] == 2


def test_the_emitted_record_keeps_the_most_recently_streamed_runs() -> None:
    stats = Stats(runs_kept=2)
    stats.emitted("r1", 0, "run.started")
    stats.emitted("r2", 0, "run.started")
    stats.emitted("r1", 1, "run.completed")  # r1 streamed again: it is the most recent now
    stats.emitted("r3", 0, "run.started")
    assert stats.emitted_events("r2") == []
    assert stats.emitted_events("r1") == [("0", "run.started"), ("1", "run.completed")]
    assert stats.emitted_events("r3") == [("0", "run.started")]
    assert stats.get("runs_dropped") == 1


def test_one_runs_record_is_bounded_and_repeats_are_not_counted_as_drops() -> None:
    stats = Stats(events_per_run=2)
    for seq in (0, 1, 1, 2, 3):
        stats.emitted("r1", seq, "log.appended")
    assert [key for key, _ in stats.emitted_events("r1")] == ["0", "1"]
    assert stats.get("events_dropped") == 2


def test_reset_clears_the_bounded_records_but_keeps_open_streams() -> None:
    stats = Stats(log_size=1)
    stats.incr("open_streams")
    stats.response(200, route="GET /x")
    stats.response(200, route="GET /x")
    stats.emitted("r1", 0, "run.started")
    stats.reset()
    assert (stats.request_log(), stats.emitted_events("r1"), stats.get("log_dropped")) == ([], [], 0)
    assert stats.get("open_streams") == 1


def test_bounds_below_one_are_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Stats(log_size=0)
