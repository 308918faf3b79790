"""Usage and cost summed over the runs runbridge recorded: the total, and a breakdown by target, profile, day or
status. A run's usage is what its backend reported (its total, recorded while runbridge followed or read the run);
runs without one are counted, never guessed."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, Field

from ..core.models import Usage
from ..state import UsageKey, UsageSums

__all__ = ["GroupBy", "UsageGroup", "UsageTotals", "summarise"]

GroupBy = UsageKey
_NO_TARGET = "(unknown target)"


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


def _totals(sums: Iterable[UsageSums]) -> UsageTotals:
    runs = used = 0
    total = Usage()
    for group in sums:
        runs, used, total = runs + group.runs, used + group.runs_with_usage, total + group.usage
    return UsageTotals(
        runs=runs,
        runs_with_usage=used,
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        total_tokens=total.total_tokens,
        cost_usd=round(total.cost_usd, 6) if total.cost_usd is not None else None,
        turns=total.turns,
    )


def summarise(sums: list[UsageSums], group_by: GroupBy) -> tuple[UsageTotals, list[UsageGroup]]:
    """The total over every group the store summed (`RunStore.usage_sums`), and one row per group: the costliest
    first, then by tokens (days in order)."""
    groups = [UsageGroup(key=g.key or _NO_TARGET, **_totals([g]).model_dump()) for g in sums]
    if group_by == "day":
        groups.sort(key=lambda g: g.key)
    else:
        groups.sort(key=lambda g: (-(g.cost_usd or 0.0), -g.total_tokens, g.key))
    return _totals(sums), groups
