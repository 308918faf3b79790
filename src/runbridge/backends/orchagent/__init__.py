"""orchagent (reference §1): the self-hosted threads/runs server of seed 000. Threads from workflow specs, a run
per message, replayed event streams, auth-required gates, MCP tool approvals."""

from .adapter import OrchagentBackend
from .auth import LOGIN_HINT, TokenSource, obtain_token, token_file_of

__all__ = ["LOGIN_HINT", "OrchagentBackend", "TokenSource", "obtain_token", "token_file_of"]
