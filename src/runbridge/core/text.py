"""Text shown to people and models: one line, bounded."""

from __future__ import annotations

__all__ = ["shorten"]


def shorten(value: object, limit: int = 80) -> str:
    """`value` as one line (each run of whitespace becomes one space), cut to `limit` characters with "…" at the cut."""
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
