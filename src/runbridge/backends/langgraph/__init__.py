"""LangGraph (docs/backends/langgraph.md): the LangGraph Agent Server's HTTP API. Assistants as targets, a thread per
run, a run and its resumes presented as one run, `interrupt()` values as gates, resumable streams.

The adapter is imported on first use (`spec` is read at startup and must stay light).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import LangGraphBackend

__all__ = ["LangGraphBackend"]


def __getattr__(name: str) -> Any:
    if name == "LangGraphBackend":
        return import_module(".adapter", __name__).LangGraphBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
