"""usage_report through the official MCP client: the tokens and cost of the runs runbridge followed, summed and
broken down, equal to what runs_get shows run by run; runs without usage counted apart; bad arguments refused."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

pytestmark = pytest.mark.anyio


async def test_the_report_sums_what_runs_get_shows_by_target_and_by_day(connect: Any, transcript: Any) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            runs = [await transcript.ok(client, "runs_start", {"target_id": t}) for t in ("quick-demo", "quick-demo")]
            runs.append(await transcript.ok(client, "runs_start", {"target_id": "failing-demo"}))
            usages = [
                (await transcript.ok(client, "runs_get", {"run_id": r["run_id"]}))["run"].get("usage") for r in runs
            ]
            followed = [r.get("usage") for r in runs]
            by_target = await transcript.ok(client, "usage_report", {})
            by_day = await transcript.ok(client, "usage_report", {"group_by": "day", "days": 1})
    assert usages == followed, "runs_get shows the usage runbridge recorded while following the run"
    reported = [u for u in usages if u]
    assert reported, "the sandbox reports usage for these runs"
    total = by_target["total"]
    assert total["runs"] == 3
    assert total["runs_with_usage"] == len(reported)
    assert total["total_tokens"] == sum(u["total_tokens"] for u in reported)
    assert total["input_tokens"] == sum(u["input_tokens"] for u in reported)
    costs = [u["cost_usd"] for u in reported if "cost_usd" in u]
    if costs:
        assert total["cost_usd"] == pytest.approx(sum(costs))
    groups = {g["key"]: g for g in by_target["groups"]}
    assert set(groups) == {"quick-demo", "failing-demo"}
    assert groups["quick-demo"]["runs"] == 2
    assert by_target["group_by"] == "target"
    (today,) = by_day["groups"]
    assert today["key"] == datetime.now(UTC).date().isoformat()
    assert today["total_tokens"] == total["total_tokens"]


async def test_with_nothing_recorded_the_report_says_so_and_bad_arguments_are_refused(
    connect: Any, transcript: Any
) -> None:
    async with connect(mode="legacy") as client:
        empty = await transcript.ok(client, "usage_report", {"days": 7})
        unknown = await transcript.refused(client, "usage_report", {"profile": "nowhere"})
        zero = await transcript.refused(client, "usage_report", {"days": 0})
        grouping = await transcript.refused(client, "usage_report", {"group_by": "week"})
    assert empty["total"]["runs"] == 0
    assert empty["groups"] == []
    assert empty["note"] == "runbridge recorded no run in the last 7 days."
    assert "nowhere" in unknown
    assert "`days`" in zero
    assert "`group_by`" in grouping
