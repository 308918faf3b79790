"""A small bar chart as a PNG, in pure Python (zlib only): a usage timeseries a person can look at.

No text is drawn (the figures are in the result's table and structured content): bars, one per period, on a light
background with a baseline; the highest bar fills the height. A few kilobytes for a month of days.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence

__all__ = ["bar_chart_png"]

_BACKGROUND = (250, 250, 252)
_BAR = (52, 101, 164)
_EMPTY = (200, 205, 215)
_AXIS = (90, 90, 90)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bar_chart_png(values: Sequence[float], *, width: int = 480, height: int = 160) -> bytes:
    """A PNG of one bar per value (negative values count as 0); an empty or all-zero series is a flat baseline."""
    margin = 8
    plot_w, plot_h = width - 2 * margin, height - 2 * margin
    count = max(1, len(values))
    slot = plot_w / count
    gap = 1 if slot >= 3 else 0
    top = max((v for v in values if v > 0), default=0.0)
    heights = [0 if top <= 0 or v <= 0 else max(1, round(plot_h * v / top)) for v in values]
    rows = []
    for y in range(height):
        row = bytearray(_BACKGROUND * width)
        level = height - margin - y  # pixels above the baseline
        if y == height - margin:
            row[3 * margin : 3 * (width - margin)] = bytes(_AXIS) * plot_w
        elif 0 < level <= plot_h:
            for i, h in enumerate(heights):
                if h >= level:
                    x0 = margin + round(i * slot)
                    x1 = max(x0 + 1, margin + round((i + 1) * slot) - gap)
                    row[3 * x0 : 3 * x1] = bytes(_BAR) * (x1 - x0)
        elif level == 1 and not heights:
            row[3 * margin : 3 * (width - margin)] = bytes(_EMPTY) * plot_w
        rows.append(b"\x00" + bytes(row))  # filter type 0 per scanline
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )
