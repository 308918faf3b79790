"""The LangGraph Agent Server wire family of the sandbox (docs/backends/langgraph.md): assistants for the graphs
`review`, `form`, `pair` and `ticker`, threads with checkpoints, runs that stop at interrupts and resume with a
command, and resumable run streams."""

from .app import build_app
from .runtime import LangGraphState

__all__ = ["LangGraphState", "build_app"]
