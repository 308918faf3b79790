"""The agents toolset: find agents, call one (a run, followed like runs_start), and manage the account's own.

Same tool, same meaning on every family with agents; a family-specific argument a family does not know is refused
by its adapter with a clear error. Deleting is destructive: what it would affect is read first and put to the person
(`bridge/confirming.py`).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import InputRequiredResult
from pydantic import BaseModel, Field

from ..bridge.confirming import Confirmation, confirm_action
from ..bridge.users import current_user
from ..core.agents import Agent, AgentCallRequest, AgentScope
from ..core.errors import sentences
from ..core.protocols import AgentCallAPI, AgentForkAPI, AgentsAPI
from ._follow import FollowResult, continue_or_none, follow, wait_for
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]

Profile = Annotated[str | None, Field(description="Profile name; omit for the default profile.")]
AgentId = Annotated[
    str, Field(min_length=1, max_length=512, description="The agent, as agents_list gives it (its id or key).")
]
Wait = Annotated[
    float | None,
    Field(
        description="Seconds to follow the call before returning a handle (default 20; at most 40 unless the "
        "server's max_wait_seconds says otherwise)."
    ),
]


class AgentsPage(BaseModel):
    profile: str
    agents: list[Agent]
    next_cursor: str | None = None
    total: int | None = None


class AgentResult(BaseModel):
    profile: str
    agent: Agent
    note: str | None = None


class AgentDeleted(BaseModel):
    profile: str
    agent_id: str
    deleted: bool
    note: str


async def agents_list(
    ctx: Context[Any, Any],
    scope: Annotated[
        AgentScope | None,
        Field(description="public: the catalogue anyone can call; workspace: your own agents. Omit: the default."),
    ] = None,
    search: Annotated[str | None, Field(max_length=200, description="Only agents matching this text.")] = None,
    tags: Annotated[list[str] | None, Field(max_length=20, description="Only agents with all these tags.")] = None,
    sort: Annotated[
        str | None, Field(max_length=40, description="Order, where the backend offers one (e.g. stars, recent).")
    ] = None,
    cursor: Annotated[str | None, Field(description="next_cursor from a previous page.")] = None,
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
    profile: Profile = None,
) -> AgentsPage:
    """Agents you can call: a backend's public catalogue or your workspace's own, with ids for agents_get and
    agents_call."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "agents", AgentsAPI)
    page = await backend.list_agents(cursor=cursor, limit=limit, search=search, sort=sort, tags=tags, scope=scope)
    return AgentsPage(profile=chosen.name, agents=page.items, next_cursor=page.next_cursor, total=page.total)


async def agents_get(agent_id: AgentId, ctx: Context[Any, Any], profile: Profile = None) -> AgentResult:
    """One agent in detail: its input and output schemas (what agents_call takes and returns), version and
    family-specific details."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "agents", AgentsAPI)
    return AgentResult(profile=chosen.name, agent=await backend.get_agent(agent_id))


async def agents_call(
    agent_id: AgentId,
    ctx: Context[Any, Any],
    input: Annotated[
        dict[str, Any] | None, Field(description="The agent's input, per its input_schema (agents_get).")
    ] = None,
    message: Annotated[str | None, Field(max_length=100_000, description="A text prompt, if the agent takes one.")] = (
        None
    ),
    version: Annotated[str | None, Field(max_length=100, description="Agent version; omit for the default.")] = None,
    endpoint: Annotated[
        str | None,
        Field(
            max_length=100,
            description="Entry point; omit for the default. agents_get's details name the agent's entry points and "
            "say which its backend marks deprecated.",
        ),
    ] = None,
    stream: Annotated[
        bool | None, Field(description="Ask for live progress where the agent can stream; omit to let runbridge pick.")
    ] = None,
    options: Annotated[
        dict[str, Any] | None,
        Field(description="Backend-specific call options (see the backend's documentation); never secrets."),
    ] = None,
    wait_seconds: Wait = None,
    profile: Profile = None,
) -> FollowResult:
    """Call an agent and follow the call live, like runs_start: progress arrives as notifications; if it is still
    going after `wait_seconds` you get a handle for runs_watch. Returns the status, the agent's output when done,
    errors (with what to do about them), usage and the next step."""
    app = app_of(ctx)
    resumed = await continue_or_none(app, ctx)
    if resumed is not None:
        return resumed
    chosen, backend = app.adapters.require(profile, "agent_calls", AgentCallAPI)
    request = AgentCallRequest(
        agent_id=agent_id,
        version=version,
        endpoint=endpoint,
        input=input or {},
        message=message,
        stream=stream,
        options=options or {},
        idempotency_key=str(uuid.uuid4()),
    )
    run = await backend.call_agent(request)
    run = run.model_copy(update={"target_id": run.target_id or agent_id})
    await app.registry.record_run(chosen.name, run, locator=run.locator, user=current_user())
    return await follow(app, ctx, chosen.name, run.run_id, wait=wait_for(app, wait_seconds), target_id=run.target_id)


async def agents_create(
    spec: Annotated[dict[str, Any], Field(description="The agent's definition, in the backend's own terms.")],
    ctx: Context[Any, Any],
    profile: Profile = None,
) -> AgentResult:
    """Register a new agent in your workspace from its definition (see the backend's documentation)."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "agents", AgentsAPI)
    return AgentResult(profile=chosen.name, agent=await backend.create_agent(spec))


async def agents_update(
    agent_id: AgentId,
    changes: Annotated[
        dict[str, Any], Field(description="Only the fields to change, in the backend's own terms.", min_length=1)
    ],
    ctx: Context[Any, Any],
    profile: Profile = None,
) -> AgentResult:
    """Change some fields of one of your agents. Fields the backend will not change in place are refused before
    anything is sent, saying what to do instead (publish a new version)."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "agents", AgentsAPI)
    return AgentResult(profile=chosen.name, agent=await backend.update_agent(agent_id, changes))


async def agents_fork(
    agent_id: AgentId,
    ctx: Context[Any, Any],
    new_name: Annotated[str | None, Field(max_length=200, description="A name for the copy.")] = None,
    workspace_id: Annotated[str | None, Field(max_length=200, description="Copy into this workspace.")] = None,
    profile: Profile = None,
) -> AgentResult:
    """Copy a public, source-available agent into your workspace, to change and call as your own."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "agent_fork", AgentForkAPI)
    agent = await backend.fork_agent(agent_id, new_name=new_name, workspace_id=workspace_id)
    return AgentResult(profile=chosen.name, agent=agent)


async def agents_delete(
    agent_id: AgentId,
    ctx: Context[Any, Any],
    all_versions: Annotated[bool, Field(description="Delete every version, not just this one.")] = False,
    confirm: Annotated[
        bool,
        Field(
            description="Only for clients that cannot ask the person themselves: true once the person agreed, "
            "after you showed them what deleting affects. Never set it on your own."
        ),
    ] = False,
    profile: Profile = None,
) -> AgentDeleted | InputRequiredResult:
    """Delete one of your agents. Destructive: what it affects is shown to the person, who must agree first (the
    client asks them; a client that cannot needs confirm: true after you asked them)."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "agents", AgentsAPI)
    preview = await backend.delete_preview(agent_id)
    what = f"every version of agent {agent_id!r}" if all_versions else f"agent {agent_id!r}"
    question = sentences(f"Delete {what} on profile {chosen.name!r}?", preview or "")
    verdict = await confirm_action(
        ctx,
        Confirmation(
            action=f"agents_delete:{chosen.name}:{agent_id}:{int(all_versions)}",
            question=question,
            refusal=sentences(f"Not deleted: the person must confirm deleting {what}", preview or ""),
        ),
        confirm=confirm,
    )
    if isinstance(verdict, InputRequiredResult):
        return verdict
    if verdict == "declined":
        return AgentDeleted(
            profile=chosen.name, agent_id=agent_id, deleted=False, note="The person declined: nothing was deleted."
        )
    await backend.delete_agent(agent_id, all_versions=all_versions)
    return AgentDeleted(profile=chosen.name, agent_id=agent_id, deleted=True, note=sentences(f"Deleted {what}"))


SPECS = [
    ToolSpec(agents_list, "agents", "List agents", read_only=True, capability="agents"),
    ToolSpec(agents_get, "agents", "Describe an agent", read_only=True, capability="agents"),
    ToolSpec(agents_call, "agents", "Call an agent", read_only=False, capability="agent_calls", task=True),
    ToolSpec(agents_create, "agents", "Register an agent", read_only=False, capability="agents"),
    ToolSpec(agents_update, "agents", "Update an agent", read_only=False, idempotent=True, capability="agents"),
    ToolSpec(agents_fork, "agents", "Fork an agent", read_only=False, capability="agent_fork"),
    ToolSpec(
        agents_delete,
        "agents",
        "Delete an agent",
        read_only=False,
        destructive=True,
        idempotent=True,
        capability="agents",
    ),
]
