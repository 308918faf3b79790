"""Orchagent-shaped chat workflows: a thread's workflow answers each message.

`{user_prompt}` in a workflow's `result` stands for the message that started the run; the orchagent sandbox
writes the result, so filled in, into the thread's history as the assistant's answer.
"""

from __future__ import annotations

from .model import GateSpec, Step, StepUsage, Workflow

__all__ = ["CHAT_WORKFLOWS"]

_MEETING = {"title": "Project sync", "start": "2026-05-05T10:00:00Z", "minutes": 30, "attendees": ["ana@example.com"]}

_CALENDAR_HIL_CHAT = Workflow(
    id="calendar-hil-chat",
    name="Calendar assistant (human in the loop)",
    description=(
        "Shaped like composio_calendar_hil_chat.json: asks the user to authorize Google Calendar (an auth gate with "
        "a sign-in link), finds a free slot, asks approval for the create-event tool, then books the meeting."
    ),
    result="Your meeting is booked for Tuesday 5 May at 10:00 UTC (30 minutes, Project sync).",
    steps=(
        Step("understand", "Understand the request", delay=0.4, usage=StepUsage(420, 60, 0.0012)),
        Step(
            "connect",
            "Connect Google Calendar",
            kind="gate",
            gate=GateSpec(
                kind="auth",
                prompt="Google Calendar needs authorization.",
                title="googlecalendar",
                description="Open the link, sign in with Google and allow calendar access, then come back.",
            ),
        ),
        Step(
            "find",
            "Find a free slot",
            kind="tool",
            delay=0.6,
            tool="GOOGLECALENDAR_FIND_FREE_SLOTS",
            tool_args={"day": "2026-05-05", "minutes": 30},
            tool_result={"slots": ["2026-05-05T10:00:00Z", "2026-05-05T14:30:00Z"]},
            usage=StepUsage(800, 120, 0.0024),
        ),
        Step(
            "approve_create",
            "Approve creating the event",
            kind="gate",
            gate=GateSpec(
                kind="tool_approval",
                prompt="Allow the assistant to create a calendar event?",
                actions=("approve", "deny"),
                artifact_type="tool_call",
                artifact={"server": "mcp", "tool": "GOOGLECALENDAR_CREATE_EVENT", "args": _MEETING},
            ),
        ),
        Step(
            "create",
            "Create the event",
            kind="tool",
            delay=0.5,
            tool="GOOGLECALENDAR_CREATE_EVENT",
            tool_args=_MEETING,
            tool_result={"id": "evt_42", "status": "confirmed"},
        ),
        Step("reply", "Reply", delay=0.3, usage=StepUsage(600, 90, 0.0018)),
    ),
)

_CHAT = Workflow(
    id="chat",
    name="Echo chat",
    description="Answers each message at once, no gates: the smallest orchagent thread.",
    result="You said: {user_prompt}",
    steps=(Step("answer", "Answer", delay=0.3, usage=StepUsage(120, 30, 0.0003)),),
)

_TOOL_APPROVAL_CHAT = Workflow(
    id="tool-approval-chat",
    name="Search with approval",
    description="Asks approval for one MCP tool (no sign-in), then answers.",
    result="Found 3 results for {user_prompt}.",
    steps=(
        Step(
            "approve_search",
            "Approve the search tool",
            kind="gate",
            gate=GateSpec(
                kind="tool_approval",
                prompt="Allow the assistant to search the web?",
                actions=("approve", "deny"),
                artifact_type="tool_call",
                artifact={"server": "mcp", "tool": "tavily_search", "args": {"query": "runbridge", "max_results": 3}},
            ),
        ),
        Step(
            "search", "Search", delay=0.4, tool="tavily_search", tool_args={"query": "runbridge"}, tool_result=[1, 2, 3]
        ),
    ),
)

CHAT_WORKFLOWS = (_CALENDAR_HIL_CHAT, _CHAT, _TOOL_APPROVAL_CHAT)
