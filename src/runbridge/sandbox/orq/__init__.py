"""The orq.ai agents wire family of the sandbox (docs/backends/orq.md): agents by key, tasks streamed as typed
events, client-side tool calls, tool reviews decided "in orq.ai's UI" (`POST /_sandbox/orq/reviews/{task_id}`),
hand-offs, stream timeouts, and usage with billing on every inactive event."""

from .app import build_app
from .state import SEED_AGENTS, OrqState

__all__ = ["SEED_AGENTS", "OrqState", "build_app"]
