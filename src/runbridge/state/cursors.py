"""Keyset page cursors: the sort key of the last row a page showed, so the next page starts right after it (however
many rows came before, and whatever was added since) without counting rows to skip.

A cursor is opaque to callers (URL-safe base64 of a small JSON array). One runbridge did not give out, or one of
another list's shape, raises `CursorError`; so does a number SQLite could not hold, rather than an overflow.
"""

from __future__ import annotations

import base64
import binascii
import json

from ..core.errors import CursorError
from ..core.models import Page

__all__ = ["decode_cursor", "encode_cursor", "offset_cursor"]

_INT64 = (-(2**63), 2**63 - 1)


def encode_cursor(*key: str | int) -> str:
    text = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: tuple[type[str] | type[int], ...]) -> tuple[str | int, ...]:
    """The key `cursor` holds, checked against `shape` (the type of each part)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw.decode())
    except (ValueError, binascii.Error, UnicodeError):
        raise CursorError(cursor) from None
    if not isinstance(key, list) or len(key) != len(shape):  # pyright: ignore[reportUnknownArgumentType]
        raise CursorError(cursor)
    parts: list[str | int] = []
    for part, kind in zip(key, shape, strict=True):  # pyright: ignore[reportUnknownVariableType]
        if type(part) is not kind or (kind is int and not _INT64[0] <= part <= _INT64[1]):  # pyright: ignore
            raise CursorError(cursor)
        parts.append(part)  # pyright: ignore[reportUnknownArgumentType]
    return tuple(parts)


def offset_cursor(cursor: str | None) -> int:
    """The offset an offset cursor stands for (for lists kept in a stable order in memory); an empty cursor is
    none. Anything else raises `CursorError`: restarting silently would show the caller the same items again."""
    return Page[object].start_of(cursor)
