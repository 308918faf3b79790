"""The approvals toolset: pre-approve an MCP tool for one run (so the run does not stop to ask), or drop stored
approvals. Both change what a run may do on the user's behalf: only on the user's explicit request."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context
from pydantic import BaseModel, Field

from ..core.errors import InputError
from ..core.protocols import ApprovalsAPI
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]

Profile = Annotated[str | None, Field(description="Profile name; omit for the default profile.")]


class ApprovalResult(BaseModel):
    profile: str
    run_id: str
    server: str
    tool: str
    args_keys: list[str]
    note: str


async def approvals_approve(
    run_id: Annotated[str, Field(min_length=1, max_length=512, description="The run the approval is for.")],
    tool: Annotated[str, Field(min_length=1, max_length=512, description="The MCP tool's name.")],
    ctx: Context[Any, Any],
    server: Annotated[str, Field(min_length=1, max_length=512, description="The tool's server.")] = "mcp",
    args_keys: Annotated[
        list[str] | None, Field(description="The argument names the approval covers (default: none listed).")
    ] = None,
    profile: Profile = None,
) -> ApprovalResult:
    """Pre-approve an MCP tool for one run, so the run calls it without stopping to ask. Only when the user asked
    for it: this grants the run a permission. (A run already waiting on an approval is answered with
    gates_respond, which approves and resumes it.)"""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(
        await app.sightings.locate(profile, run_id=run_id), "approvals", ApprovalsAPI
    )
    keys = list(args_keys or [])
    await backend.approve_tool(run_id, tool, server=server, args_keys=keys)
    return ApprovalResult(
        profile=chosen.name,
        run_id=run_id,
        server=server,
        tool=tool,
        args_keys=keys,
        note=f"{tool} ({server}) is approved for run {run_id}; the run will not ask about it again.",
    )


class ClearResult(BaseModel):
    profile: str
    cleared: Any = Field(default=None, description="What the server reports it dropped.")
    note: str


async def approvals_clear(
    ctx: Context[Any, Any],
    all: Annotated[bool, Field(description="Drop every stored approval (of every user the server keeps).")] = False,
    user_id: Annotated[str | None, Field(max_length=512, description="Drop the approvals of this user only.")] = None,
    profile: Profile = None,
) -> ClearResult:
    """Drop stored tool approvals: the caller's own (no arguments), one user's (`user_id`), or all (`all`). Runs
    will ask again before using those tools. Only when the user asked for it."""
    if all and user_id:
        raise InputError("Pass either all=true or a user_id, not both.")
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "approvals", ApprovalsAPI)
    doc = await backend.clear_approvals(all=all, user_id=user_id)
    scope = "all approvals" if all else f"the approvals of {user_id}" if user_id else "your approvals"
    return ClearResult(profile=chosen.name, cleared=doc.get("cleared"), note=f"Cleared {scope}.")


SPECS = [
    ToolSpec(
        approvals_approve,
        "approvals",
        "Pre-approve a tool for a run",
        read_only=False,
        idempotent=True,
        capability="approvals",
    ),
    ToolSpec(
        approvals_clear,
        "approvals",
        "Clear tool approvals",
        read_only=False,
        destructive=True,
        idempotent=True,
        capability="approvals",
    ),
]
