"""A backend's usage view as text and as a chart: the table's columns and alignment, the paging line, and the PNG
(valid chunks, one bar per day, the tallest filling the height; an all-zero or empty series drawn flat)."""

from __future__ import annotations

import base64
import struct
import zlib
from datetime import UTC, datetime, timedelta

from runbridge.bridge.chart import bar_chart_png
from runbridge.bridge.usage_views import chart_of, table_of
from runbridge.core.usage_views import UsageFigures, UsageView

BAR = bytes((52, 101, 164))
UNTIL = datetime(2026, 3, 31, tzinfo=UTC)


def _view(view: str, rows: list[dict[str, object]], columns: list[str], **extra: object) -> UsageView:
    return UsageView.model_validate(
        {
            "view": view,
            "side": "consumer",
            "since": UNTIL - timedelta(days=3),
            "until": UNTIL,
            "figures": UsageFigures(calls=sum(int(r.get("calls", 0)) for r in rows)),  # type: ignore[arg-type]
            "columns": columns,
            "rows": rows,
            **extra,
        }
    )


def _rows(png: bytes) -> tuple[int, int, list[bytes]]:
    at, idat, header = 8, b"", b""
    while at < len(png):
        (length,) = struct.unpack(">I", png[at : at + 4])
        kind, body = png[at + 4 : at + 8], png[at + 8 : at + 8 + length]
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == struct.unpack(">I", png[at + 8 + length : at + 12 + length])[0]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        at += 12 + length
    width, height = struct.unpack(">II", header[:8])
    raw = zlib.decompress(idat)
    stride = 1 + 3 * width
    return width, height, [raw[i * stride + 1 : (i + 1) * stride] for i in range(height)]


def test_the_table_aligns_numbers_right_and_text_left_and_says_when_more_rows_exist() -> None:
    rows: list[dict[str, object]] = [
        {"agent": "acme/summarizer", "calls": 1200, "cost_usd": 0.5},
        {"agent": "joe/x", "calls": 3},
    ]
    text = table_of(_view("breakdown", rows, ["agent", "calls", "cost_usd"], total_rows=9), profile="oa")
    lines = text.splitlines()
    assert lines[0] == "consumer breakdown on oa, 2026-03-28 to 2026-03-31"
    assert lines[1] == "calls=1,203"
    assert lines[2].split() == ["agent", "calls", "cost_usd"]
    assert lines[3].startswith("acme/summarizer  1,200")
    assert lines[4].startswith("joe/x")
    assert lines[4].endswith("3         -")
    assert lines[-1] == "2 of 9 rows; next_cursor continues."


def test_a_view_without_rows_says_so() -> None:
    assert table_of(_view("tenants", [], ["tenant", "calls"]), profile="oa").endswith("(no rows in this period)")


def test_the_chart_draws_one_bar_per_day_the_tallest_full_height() -> None:
    png = bar_chart_png([1.0, 0.0, 4.0, 2.0], width=40, height=30)
    width, height, rows = _rows(png)
    assert (width, height) == (40, 30)
    top = rows[8]  # the first row of the plot (margin 8)
    columns_with_bar = [x for x in range(width) if top[3 * x : 3 * x + 3] == BAR]
    assert columns_with_bar, "the tallest bar reaches the top"
    slot = (40 - 16) / 4
    assert all(8 + 2 * slot <= x < 8 + 3 * slot for x in columns_with_bar), "only the third day's bar"
    assert BAR not in bar_chart_png([0.0, 0.0], width=40, height=30)
    assert BAR not in bar_chart_png([], width=40, height=30)
    assert BAR not in bar_chart_png([-3.0], width=40, height=30)


def test_only_a_timeseries_gets_a_chart() -> None:
    series = _view("timeseries", [{"date": "2026-03-30", "calls": 2, "cost_usd": 0.1}], ["date", "calls"])
    data = chart_of(series)
    assert data is not None
    assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert chart_of(_view("breakdown", [{"agent": "a", "calls": 1}], ["agent", "calls"])) is None
