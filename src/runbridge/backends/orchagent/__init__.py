"""orchagent (docs/backends/orchagent.md): the self-hosted threads/runs server. Threads from workflow specs, a run
per message, replayed event streams, auth-required gates, MCP tool approvals.

The adapter and the sign-in code are imported on first use (`spec` is read at startup and must stay light).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .adapter import OrchagentBackend
    from .auth import LOGIN_HINT, TokenSource, obtain_token, token_file_of

__all__ = ["LOGIN_HINT", "OrchagentBackend", "TokenSource", "obtain_token", "token_file_of"]

_WHERE = {
    "OrchagentBackend": ".adapter",
    "LOGIN_HINT": ".auth",
    "TokenSource": ".auth",
    "obtain_token": ".auth",
    "token_file_of": ".auth",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
