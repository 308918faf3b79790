"""Keyset page cursors: the sort key of the last row a page showed, so the next page starts right after it (however
many rows came before, and whatever was added since) without counting rows to skip.

A cursor is opaque to callers (URL-safe base64 of a small JSON array). One runbridge did not give out, or one of
another list's shape, raises `CursorError`; so does a number SQLite could not hold, rather than an overflow.
"""

from __future__ import annotations

import base64
import binascii
import json
from contextlib import suppress
from typing import Any, cast

from ..core.errors import CursorError
from ..core.models import Page

__all__ = ["decode_cursor", "encode_cursor", "offset_cursor"]

_INT64 = (-(2**63), 2**63 - 1)
_LONGEST = 4096  # characters: far more than any key runbridge encodes


def encode_cursor(*key: str | int) -> str:
    text = json.dumps(list(key), separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, shape: tuple[type[str] | type[int], ...]) -> tuple[str | int, ...]:
    """The key `cursor` holds, checked against `shape` (the type of each part)."""
    key: Any = None
    if len(cursor) <= _LONGEST:
        with suppress(ValueError, binascii.Error, UnicodeError):  # garbled: refused below
            key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode())
    if not isinstance(key, list) or len(cast(list[Any], key)) != len(shape):
        raise CursorError(cursor)
    parts: tuple[str | int, ...] = tuple(cast(list[Any], key))
    for part, kind in zip(parts, shape, strict=True):
        if type(part) is not kind or (isinstance(part, int) and not _INT64[0] <= part <= _INT64[1]):
            raise CursorError(cursor)  # a bool is not an int here; a number SQLite cannot hold is no key of ours
    return parts


def offset_cursor(cursor: str | None) -> int:
    """The offset an offset cursor stands for (for lists kept in a stable order in memory); an empty cursor is
    none. Anything else raises `CursorError`: restarting silently would show the caller the same items again."""
    return Page[object].start_of(cursor)
