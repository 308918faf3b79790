"""The orchagent wire family of the sandbox: the self-hosted threads/runs server (docs/backends/orchagent.md).

A thread is created from a workflow spec (JSON): `{"workflow": "<engine workflow id>", "secrets": {...}, ...}`
(`workflow` defaults to `chat`; other keys are kept, opaque, as on the real server). `EXAMPLE_SPECS` holds specs
for the chat workflows, `calendar_hil_chat` among them (orchagent's example `composio_calendar_hil_chat.json`).
"""

from .app import build_app
from .state import VARIANTS, OrchagentState, OrchagentVariant, resolve_variant

__all__ = ["EXAMPLE_SPECS", "VARIANTS", "OrchagentState", "OrchagentVariant", "build_app", "resolve_variant"]

EXAMPLE_SPECS: dict[str, dict[str, object]] = {
    "calendar_hil_chat": {
        "name": "composio_calendar_hil_chat",
        "workflow": "calendar-hil-chat",
        "description": "Books meetings in Google Calendar; asks to sign in, and before creating an event.",
        "llm": {"provider": "openai", "model": "gpt-4o-mini", "api_key": "{{providers.openai.api_key}}"},
        "mcp": {"servers": [{"name": "composio", "toolkits": ["googlecalendar"]}]},
    },
    "chat": {"name": "echo_chat", "workflow": "chat"},
    "tool_approval_chat": {"name": "search_with_approval", "workflow": "tool-approval-chat"},
}
