"""Summing recorded usage: totals over every group the store summed, runs without usage counted apart, and the
breakdowns' keys and order (costliest first; days in order). What the store sums is in the store contract."""

from __future__ import annotations

from runbridge.bridge.usage import summarise
from runbridge.core.models import Usage
from runbridge.state import UsageSums

BY_TARGET = [
    UsageSums("wf-a", 2, 2, Usage(input_tokens=11, output_tokens=6, total_tokens=17, cost_usd=0.01, turns=3)),
    UsageSums("wf-b", 1, 1, Usage(input_tokens=100, output_tokens=50, total_tokens=150, cost_usd=0.5)),
    UsageSums(None, 1, 0, Usage()),
]


def test_the_total_sums_every_group_and_counts_runs_without_usage() -> None:
    total, _ = summarise(BY_TARGET, "target")
    assert (total.runs, total.runs_with_usage) == (4, 3)
    assert (total.input_tokens, total.output_tokens, total.total_tokens) == (111, 56, 167)
    assert total.cost_usd == 0.51
    assert total.turns == 3


def test_groups_come_costliest_first_and_days_in_order() -> None:
    _, by_target = summarise(BY_TARGET, "target")
    assert [g.key for g in by_target] == ["wf-b", "wf-a", "(unknown target)"]
    assert (by_target[1].runs, by_target[1].cost_usd, by_target[1].turns) == (2, 0.01, 3)
    assert by_target[2].cost_usd is None
    days = [UsageSums("2026-12-02", 2, 2, Usage(cost_usd=9.0)), UsageSums("2026-12-01", 2, 1, Usage())]
    _, by_day = summarise(days, "day")
    assert [(g.key, g.runs) for g in by_day] == [("2026-12-01", 2), ("2026-12-02", 2)]


def test_no_runs_sum_to_zero() -> None:
    total, groups = summarise([], "profile")
    assert (total.runs, total.total_tokens, total.cost_usd, groups) == (0, 0, None, [])
