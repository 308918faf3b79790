"""Synapse orchestrations (docs/backends/orchestrations.md): a catalogue of orchestrations, runs streamed or
synchronous on v1 (and queued on the v2 scale-mode API where the server has it), human gates with typed fields,
usage from step history.

The adapter is imported on first use (`spec` is read at startup and must stay light).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import OrchestrationsBackend

__all__ = ["OrchestrationsBackend"]


def __getattr__(name: str) -> Any:
    if name == "OrchestrationsBackend":
        from .adapter import OrchestrationsBackend

        return OrchestrationsBackend
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
