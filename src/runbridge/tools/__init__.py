"""The whole MCP tool surface on one screen: every tool, its toolset, and what it needs.

| toolset  | tools                                                                  |
|----------|------------------------------------------------------------------------|
| profiles | profiles_list                                                          |
| targets  | targets_list, targets_describe                                         |
| runs     | runs_start, runs_watch, runs_get, runs_events, runs_cancel, runs_fork, runs_list |
| gates    | gates_list, gates_respond                                              |
| threads  | threads_create, threads_send, threads_ask, threads_history, threads_set_secrets |
| approvals| approvals_approve, approvals_clear                                     |
| usage    | usage_report                                                           |
| agents   | agents_list, agents_get, agents_call, agents_create, agents_update, agents_fork, agents_delete |
| admin    | schedules_*, services_*, workspaces_*, secrets_*, billing_*, api_keys_* (off by default)          |
"""

from __future__ import annotations

from . import admin, agents, approvals, gates, profiles, runs, targets, threads, usage
from ._spec import ToolSpec

__all__ = ["SURFACE", "ToolSpec"]

SURFACE: list[ToolSpec] = [
    *profiles.SPECS,
    *targets.SPECS,
    *runs.SPECS,
    *gates.SPECS,
    *threads.SPECS,
    *approvals.SPECS,
    *usage.SPECS,
    *agents.SPECS,
    *admin.SPECS,
]
