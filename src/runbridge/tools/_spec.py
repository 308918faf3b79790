"""A tool as data: its function, toolset, the capability it needs, and honest annotations.

`ToolSpec.bound()` wraps the function at the one point where runbridge's errors become MCP tool errors: the
curated message reaches the model, never a stack trace, a response body or a secret. It is also where a returned
model becomes the result's structured content and text (`bridge.output.tool_result`: optional fields that are
None are left out).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations

from ..bridge.app import App
from ..bridge.arguments import unusable_argument
from ..bridge.output import tool_result
from ..core import budget
from ..core.errors import MAX_MESSAGE_CHARS, CursorError, RunbridgeError, bounded

__all__ = ["ToolSpec", "app_of"]

log = logging.getLogger("runbridge.tools")


# What the SDK puts around a tool error ("Error executing tool <name>: "), so that the one cut is this one.
_SDK_ROOM = 100


def _shown(message: str) -> str:
    """The message within the bound every error keeps (an argument echoed back must not flood a model's context,
    nor the log). `bridge.arguments.InvalidArguments` bounds the final text again, for every other path."""
    return bounded(message, MAX_MESSAGE_CHARS - _SDK_ROOM)


def app_of(ctx: Context[Any, Any]) -> App:
    app = ctx.request_context.lifespan_context
    assert isinstance(app, App), "the server lifespan provides the App"
    return app


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool. `capability` names what the profile's backend must implement (None: always available); `task`:
    it follows a run, so a client that asks may run it as an MCP task (`server/tasks*.py`)."""

    fn: Callable[..., Any]
    toolset: str
    title: str
    read_only: bool
    destructive: bool = False
    idempotent: bool = False
    open_world: bool = True
    capability: str | None = None
    task: bool = False

    @property
    def name(self) -> str:
        return self.fn.__name__

    @property
    def annotations(self) -> ToolAnnotations:
        return ToolAnnotations(
            title=self.title,
            read_only_hint=self.read_only,
            destructive_hint=None if self.read_only else self.destructive,
            idempotent_hint=None if self.read_only else self.idempotent,
            open_world_hint=self.open_world,
        )

    def bound(self) -> Callable[..., Any]:
        """The function with runbridge errors translated to tool errors (the model can read and act on them)."""
        fn = self.fn

        @functools.wraps(fn)
        async def call(*args: Any, **kwargs: Any) -> Any:
            ctx = next((a for a in (*args, *kwargs.values()) if isinstance(a, Context)), None)
            unusable = unusable_argument(fn.__name__, {k: v for k, v in kwargs.items() if not isinstance(v, Context)})
            if unusable is not None:
                log.info("tool %s refused: %s", fn.__name__, unusable)
                raise ToolError(unusable)
            try:
                if ctx is None:
                    return tool_result(await fn(*args, **kwargs))
                app = app_of(ctx)
                # One deadline for the whole call, which every backend request it makes respects (`core.budget`).
                with app.calls.serving(), budget.call_budget(app.settings.call_budget_seconds):
                    return tool_result(await fn(*args, **kwargs))
            except CursorError as exc:  # adapters cannot know which tool to call again without the cursor
                named = exc.for_call(fn.__name__)
                log.info("tool %s refused: %s", fn.__name__, _shown(str(named)))
                raise ToolError(_shown(str(named))) from None
            except RunbridgeError as exc:
                log.info("tool %s refused: %s", fn.__name__, _shown(str(exc)))
                raise ToolError(_shown(str(exc))) from None

        return call
