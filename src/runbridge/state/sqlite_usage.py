"""The SQLite store's usage sums, kept per (profile, UTC day, target, status) as runs are written, so a report over
100,000 runs reads a few hundred sums instead of every run.

Triggers on `runs` add a run's figures to its day's row when it is recorded, and move them when its status, target
or usage changes, in the same transaction as the write: the sums are never behind the runs, whichever process
wrote them. A report sums the days after the first one from these rows, and reads the first (partial) day's runs
themselves, off the `created_at` index.

Blocking functions on one connection; `SqliteStore` runs them off the event loop, one at a time.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

from .records import USAGE_COUNTED, USAGE_FIGURES, USAGE_SUMS, add_sums, usage_sums_of
from .store import UsageKey, UsageSums

__all__ = ["USAGE_SCHEMA", "fill_usage_days", "usage_sums"]


def _delta(row: str, sign: str) -> str:
    """The values one run (`NEW` or `OLD`) adds (`sign` "1") or takes away ("-1") from its day's row."""
    figures = [f"{sign} * COALESCE(json_extract({row}.usage, '$.{f}'), 0)" for f in (*USAGE_FIGURES, *USAGE_COUNTED)]
    counted = [f"{sign} * (json_extract({row}.usage, '$.{f}') IS NOT NULL)" for f in USAGE_COUNTED]
    return (
        f"{row}.profile, substr({row}.created_at, 1, 10), COALESCE({row}.target_id, ''), {row}.status, {sign}, "
        f"{sign} * ({row}.usage IS NOT NULL), " + ", ".join(figures + counted)
    )


# A set of runs' figures, in `usage_days`' column order (after `runs` and `with_usage`).
_RUN_SUMS = ", ".join(
    [f"SUM(COALESCE(json_extract(usage, '$.{f}'), 0))" for f in (*USAGE_FIGURES, *USAGE_COUNTED)]
    + [f"COUNT(json_extract(usage, '$.{f}'))" for f in USAGE_COUNTED]
)

_ADD = """INSERT INTO usage_days VALUES ({values})
    ON CONFLICT (profile, day, target, status) DO UPDATE SET
      runs = runs + excluded.runs, with_usage = with_usage + excluded.with_usage,
      input_tokens = input_tokens + excluded.input_tokens, output_tokens = output_tokens + excluded.output_tokens,
      total_tokens = total_tokens + excluded.total_tokens, cost_usd = cost_usd + excluded.cost_usd,
      turns = turns + excluded.turns, cost_runs = cost_runs + excluded.cost_runs,
      turns_runs = turns_runs + excluded.turns_runs;"""

# Each a statement of its own (a trigger's body holds semicolons).
USAGE_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS usage_days (
    profile TEXT NOT NULL, day TEXT NOT NULL, target TEXT NOT NULL, status TEXT NOT NULL,
    runs INTEGER NOT NULL, with_usage INTEGER NOT NULL, input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
    total_tokens INTEGER NOT NULL, cost_usd REAL NOT NULL, turns INTEGER NOT NULL, cost_runs INTEGER NOT NULL,
    turns_runs INTEGER NOT NULL,
    PRIMARY KEY (profile, day, target, status)) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS usage_days_by_day ON usage_days (day)",
    f"""CREATE TRIGGER IF NOT EXISTS usage_on_insert AFTER INSERT ON runs BEGIN
    {_ADD.format(values=_delta("NEW", "1"))}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS usage_on_update
    AFTER UPDATE OF profile, target_id, status, usage, created_at ON runs
    WHEN OLD.target_id IS NOT NEW.target_id OR OLD.status IS NOT NEW.status OR OLD.usage IS NOT NEW.usage
      OR OLD.profile IS NOT NEW.profile OR OLD.created_at IS NOT NEW.created_at BEGIN
    {_ADD.format(values=_delta("OLD", "-1"))}
    {_ADD.format(values=_delta("NEW", "1"))}
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS usage_on_delete AFTER DELETE ON runs BEGIN
    {_ADD.format(values=_delta("OLD", "-1"))}
    END""",
)


def fill_usage_days(db: sqlite3.Connection) -> None:
    """Sum the runs already recorded (a state file written before the sums were kept)."""
    db.execute(
        f"INSERT INTO usage_days SELECT profile, substr(created_at, 1, 10), COALESCE(target_id, ''), status, "  # noqa: S608
        f"COUNT(*), COUNT(usage), {_RUN_SUMS} FROM runs GROUP BY 1, 2, 3, 4"
    )


_KEYS = {"target": "target", "profile": "profile", "day": "day", "status": "status"}
_RUN_KEYS = {"target": "COALESCE(target_id, '')", "profile": "profile", "day": "substr(created_at, 1, 10)"}


def usage_sums(db: sqlite3.Connection, profile: str | None, since: datetime, group_by: UsageKey) -> list[UsageSums]:
    """The runs first recorded at or after `since` and their usage, summed per `group_by` key."""
    since = since.astimezone(UTC)
    first_day = since.date().isoformat()
    next_day = (datetime.combine(since.date(), datetime.min.time(), UTC) + timedelta(days=1)).isoformat()
    only = " AND profile = ?" if profile is not None else ""
    tail = [profile] if profile is not None else []
    sums = ", ".join(f"SUM({c})" for c in USAGE_SUMS)
    key = _KEYS[group_by]
    rows = db.execute(
        f"SELECT {key}, {sums} FROM usage_days WHERE day > ?{only} GROUP BY 1",  # noqa: S608  (constant SQL)
        [first_day, *tail],
    ).fetchall()
    rows += db.execute(
        f"SELECT {_RUN_KEYS.get(group_by, group_by)}, COUNT(*), COUNT(usage), {_RUN_SUMS} "  # noqa: S608
        f"FROM runs WHERE created_at >= ? AND created_at < ?{only} GROUP BY 1",
        [since.isoformat(), next_day, *tail],
    ).fetchall()
    merged: dict[str, list[float]] = {}
    for group, *values in rows:
        if values[0]:  # a day's row whose runs all moved elsewhere sums nothing
            add_sums(merged, group, values)
    return usage_sums_of(merged)
