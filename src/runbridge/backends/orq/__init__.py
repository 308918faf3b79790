"""orq.ai (docs/backends/orq.md): the hosted agents API. Agents by key, tasks streamed as typed events and followed
as runs, client tool calls and tool reviews as gates, usage and billing from inactive events.

The adapter is imported on first use (`spec` is read at startup and must stay light).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import OrqBackend

__all__ = ["OrqBackend"]


def __getattr__(name: str) -> Any:
    if name == "OrqBackend":
        return import_module(".adapter", __name__).OrqBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
