"""Usage and cost summed over the runs runbridge recorded: the total, and a breakdown by target, profile, day or
status. A run's usage is what its backend reported (its total, recorded while runbridge followed or read the run);
runs without one are counted, never guessed."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

from pydantic import BaseModel, Field

from ..core.models import Usage
from ..state import RunRecord

__all__ = ["GroupBy", "UsageGroup", "UsageTotals", "summarise"]

GroupBy = Literal["target", "profile", "day", "status"]

_KEYS: dict[str, Callable[[RunRecord], str]] = {
    "target": lambda r: r.target_id or "(unknown target)",
    "profile": lambda r: r.profile,
    "day": lambda r: r.created_at.date().isoformat(),
    "status": lambda r: r.status.value,
}


class UsageTotals(BaseModel):
    runs: int = Field(description="Runs recorded in the period.")
    runs_with_usage: int = Field(description="Of those, the runs whose backend reported usage.")
    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = Field(default=None, description="The sum of the costs backends reported, if any did.")
    turns: int | None = None


class UsageGroup(UsageTotals):
    key: str = Field(description="The target, profile, day (UTC) or status the row sums.")


def _totals(records: Iterable[RunRecord]) -> UsageTotals:
    runs = 0
    used: list[Usage] = []
    for record in records:
        runs += 1
        if record.usage is not None:
            used.append(record.usage)
    total = sum(used, Usage())
    return UsageTotals(
        runs=runs,
        runs_with_usage=len(used),
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        total_tokens=total.total_tokens,
        cost_usd=round(total.cost_usd, 6) if total.cost_usd is not None else None,
        turns=total.turns,
    )


def summarise(records: list[RunRecord], group_by: GroupBy) -> tuple[UsageTotals, list[UsageGroup]]:
    """The total over `records`, and one row per `group_by` key: the costliest first, then by tokens (days in
    order)."""
    key = _KEYS[group_by]
    grouped: dict[str, list[RunRecord]] = {}
    for record in records:
        grouped.setdefault(key(record), []).append(record)
    groups = [UsageGroup(key=k, **_totals(rs).model_dump()) for k, rs in grouped.items()]
    if group_by == "day":
        groups.sort(key=lambda g: g.key)
    else:
        groups.sort(key=lambda g: (-(g.cost_usd or 0.0), -g.total_tokens, g.key))
    return _totals(records), groups
