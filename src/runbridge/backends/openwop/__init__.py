"""OpenWOP (docs/backends/openwop.md): workflows by id, runs with sequenced SSE events, interrupts, cancel and fork.

The adapter is imported on first use (`spec` is read at startup and must stay light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import OpenWopBackend

__all__ = ["OpenWopBackend"]


def __getattr__(name: str) -> Any:
    if name == "OpenWopBackend":
        from .adapter import OpenWopBackend

        return OpenWopBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
