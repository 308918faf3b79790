"""A platform's usage view for the person and the model: a compact text table (the figures, then the rows), and for
a timeseries a bar chart of cost per day (`chart.py`), beside the structured content."""

from __future__ import annotations

import base64
from typing import Any, cast

from ..core.text import shorten
from ..core.usage_views import UsageView
from .chart import bar_chart_png

__all__ = ["chart_of", "table_of"]

_MAX_CELL = 28
_MAX_COUNTS = 60  # a cell of counts by name


def _count(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        text = f"{value:.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.2f}"
    elif isinstance(value, int) and not isinstance(value, bool):
        text = f"{value:,}"
    elif isinstance(value, dict):  # counts by name (e.g. how runs were triggered), largest first
        counts = sorted(cast(dict[Any, Any], value).items(), key=lambda kv: (-_count(kv[1]), str(kv[0])))
        return shorten(" ".join(f"{k}={_cell(v)}" for k, v in counts) or "-", _MAX_COUNTS)
    else:
        text = str(value)
    return shorten(text, _MAX_CELL)  # one line: a cell never breaks the table


def _numeric(value: Any) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _fit(text: str, width: int, numeric: bool) -> str:
    """Numbers right-aligned, text left-aligned."""
    return text.rjust(width) if numeric else text.ljust(width)


def table_of(view: UsageView, *, profile: str) -> str:
    """`view` as text: a heading, the period's figures on one line, then the rows under their columns."""
    period = f"{view.since:%Y-%m-%d} to {view.until:%Y-%m-%d}"
    lines = [f"{view.side} {view.view} on {profile}, {period}"]
    figures = view.figures.model_dump(exclude_none=True)
    if figures:
        lines.append("  ".join(f"{k}={_cell(v)}" for k, v in figures.items()))
    if view.columns and view.rows:
        cells = [[_cell(row.get(c)) for c in view.columns] for row in view.rows]
        widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(view.columns)]
        numeric = [all(_numeric(row.get(c)) for row in view.rows) for c in view.columns]
        lines.append("  ".join(_fit(c, w, n) for c, w, n in zip(view.columns, widths, numeric, strict=True)).rstrip())
        for row in cells:
            lines.append("  ".join(_fit(v, w, n) for v, w, n in zip(row, widths, numeric, strict=True)).rstrip())
    elif view.columns:
        lines.append("(no rows in this period)")
    if view.total_rows is not None and view.total_rows > len(view.rows):
        lines.append(f"{len(view.rows)} of {view.total_rows} rows; next_cursor continues.")
    if view.note:
        lines.append(view.note)
    return "\n".join(lines)


def chart_of(view: UsageView) -> str | None:
    """A timeseries' cost per day (calls per day where no cost is reported) as a base64 PNG; None for other
    views."""
    if view.view != "timeseries" or not view.rows:
        return None
    key = "cost_usd" if any(isinstance(r.get("cost_usd"), int | float) for r in view.rows) else "calls"
    values = [float(r.get(key) or 0) for r in view.rows]
    return base64.b64encode(bar_chart_png(values)).decode("ascii")
