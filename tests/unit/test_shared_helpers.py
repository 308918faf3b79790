"""The helpers every backend shares: one way to read a wire timestamp, one way to shorten text for a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from runbridge.backends._wire import parse_time
from runbridge.core.text import shorten


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC)),
        ("2026-03-01T10:00:00.250+00:00", datetime(2026, 3, 1, 10, 0, 0, 250000, tzinfo=UTC)),
        ("2026-03-01T12:00:00+02:00", datetime(2026, 3, 1, 12, tzinfo=timezone(timedelta(hours=2)))),
    ],
)
def test_a_wire_timestamp_is_read_with_its_zone(raw: str, expected: datetime) -> None:
    assert parse_time(raw) == expected


@pytest.mark.parametrize("raw", [None, "", "yesterday", 1700000000, "2026-13-01T00:00:00Z"])
def test_anything_that_is_not_a_timestamp_is_none_rather_than_an_error(raw: object) -> None:
    assert parse_time(raw) is None


def test_shortened_text_is_one_line_within_its_limit_and_marks_the_cut() -> None:
    assert shorten("a\n  b\tc") == "a b c"
    cut = shorten("x" * 100, 10)
    assert cut == "x" * 9 + "…"
    assert len(cut) == 10
    assert shorten("y" * 10, 10) == "y" * 10  # exactly at the limit: kept whole
