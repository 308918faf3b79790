"""Summing recorded usage: totals over every run, runs without usage counted apart, and the breakdowns' keys and
order (costliest first; days in order)."""

from __future__ import annotations

from datetime import UTC, datetime

from runbridge.bridge.usage import summarise
from runbridge.core.models import RunStatus, Usage
from runbridge.state import RunRecord


def _record(run_id: str, target: str | None, day: int, usage: Usage | None, status: RunStatus) -> RunRecord:
    at = datetime(2026, 12, day, 9, tzinfo=UTC)
    return RunRecord("p", run_id, target, status, None, None, at, at, usage)


RECORDS = [
    _record(
        "a", "wf-a", 1, Usage(input_tokens=10, output_tokens=5, total_tokens=15, cost_usd=0.01), RunStatus.COMPLETED
    ),
    _record("b", "wf-a", 2, Usage(input_tokens=1, output_tokens=1, total_tokens=2, turns=3), RunStatus.FAILED),
    _record(
        "c", "wf-b", 2, Usage(input_tokens=100, output_tokens=50, total_tokens=150, cost_usd=0.5), RunStatus.COMPLETED
    ),
    _record("d", None, 1, None, RunStatus.RUNNING),
]


def test_the_total_sums_every_reported_usage_and_counts_runs_without_one() -> None:
    total, _ = summarise(RECORDS, "target")
    assert (total.runs, total.runs_with_usage) == (4, 3)
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (111, 56, 167)
    assert total.cost_usd == 0.51
    assert total.turns == 3


def test_groups_come_costliest_first_and_days_in_order() -> None:
    _, by_target = summarise(RECORDS, "target")
    assert [g.key for g in by_target] == ["wf-b", "wf-a", "(unknown target)"]
    assert (by_target[1].runs, by_target[1].cost_usd, by_target[1].turns) == (2, 0.01, 3)
    assert by_target[2].cost_usd is None
    _, by_day = summarise(RECORDS, "day")
    assert [(g.key, g.runs) for g in by_day] == [("2026-12-01", 2), ("2026-12-02", 2)]
    _, by_status = summarise(RECORDS, "status")
    assert {g.key for g in by_status} == {"completed", "failed", "running"}


def test_no_records_sum_to_zero() -> None:
    total, groups = summarise([], "profile")
    assert (total.runs, total.total_tokens, total.cost_usd, groups) == (0, 0, None, [])
