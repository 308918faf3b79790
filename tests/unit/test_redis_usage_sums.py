"""The Redis store's daily usage sums always equal the runs they sum: runs recorded over several days (the store's
clock moved day by day), then moved between statuses and targets and given more usage; for every starting moment and
every grouping, `usage_sums` (the days' sums, and the first day's runs read one by one) equals the same sums taken
from every run."""

from __future__ import annotations

import secrets
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from runbridge.core.models import RunStatus, Usage
from runbridge.state import RunRecord, UsageSums

pytestmark = pytest.mark.anyio

DAY0 = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
P = "p"


def _expected(records: list[RunRecord], profile: str | None, since: datetime, key: str) -> dict[str | None, tuple]:
    groups: dict[str | None, list[RunRecord]] = defaultdict(list)
    for r in records:
        if r.created_at >= since and (profile is None or r.profile == profile):
            value = {"target": r.target_id, "profile": r.profile, "status": r.status.value}.get(key)
            groups[r.created_at.date().isoformat() if key == "day" else value].append(r)
    found: dict[str | None, tuple] = {}
    for group, runs in groups.items():
        used = [r.usage for r in runs if r.usage is not None]
        costs = [u.cost_usd for u in used if u.cost_usd is not None]
        turns = [u.turns for u in used if u.turns is not None]
        found[group] = (
            len(runs),
            len(used),
            sum(u.total_tokens for u in used),
            round(sum(costs), 9) if costs else None,
            sum(turns) if turns else None,
        )
    return found


def _got(sums: list[UsageSums]) -> dict[str | None, tuple]:
    return {
        s.key: (
            s.runs,
            s.runs_with_usage,
            s.usage.total_tokens,
            round(s.usage.cost_usd, 9) if s.usage.cost_usd is not None else None,
            s.usage.turns,
        )
        for s in sums
    }


async def test_the_daily_usage_sums_always_equal_the_runs_they_sum(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runbridge.state import redis_runs
    from runbridge.state.redis_store import RedisStore

    store = RedisStore(redis_url, prefix=f"test-{secrets.token_hex(6)}")
    clock = [DAY0]
    monkeypatch.setattr(redis_runs, "utc_now", lambda: clock[0])
    try:
        for day in range(5):
            clock[0] = DAY0 + timedelta(days=day)
            for i in range(6):
                run_id = f"d{day}-r{i}"
                profile = P if i % 3 else "other"
                usage = Usage(total_tokens=10 * i, cost_usd=0.25 * i if i % 2 else None, turns=i if i > 3 else None)
                status = [RunStatus.RUNNING, RunStatus.COMPLETED, RunStatus.FAILED][i % 3]
                await store.update_run(
                    profile, run_id, status=status, target_id=f"wf{i % 2}", usage=usage if i else None
                )
            # Later writes move runs between groups: a status, a target first set, more usage.
            clock[0] += timedelta(hours=1)
            await store.update_run("other", f"d{day}-r0", status=RunStatus.COMPLETED, usage=Usage(total_tokens=7))
            await store.update_run(P, f"d{day}-r1", usage=Usage(total_tokens=99, cost_usd=1.5, turns=2))
            await store.update_run(P, f"d{day}-new", status=RunStatus.CANCELLED)  # no target
            await store.update_run(P, f"d{day}-new", target_id="late")
        every = await store.runs_since(None, DAY0 - timedelta(days=1))
        assert len(every) == 5 * 7
        for since in (DAY0 - timedelta(days=1), DAY0 + timedelta(days=1, hours=2), DAY0 + timedelta(days=4)):
            for key in ("target", "profile", "day", "status"):
                for profile in (None, P):
                    got = _got(await store.usage_sums(profile, since, key))  # type: ignore[arg-type]
                    assert got == _expected(every, profile, since, key), (since, key, profile)
    finally:
        await store.aclose()
