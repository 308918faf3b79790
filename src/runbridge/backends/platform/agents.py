"""The agents part of the platform adapter: the public catalogue, the account's agents (as `agents` tools and as
run targets), and their management: register, update (fields the platform will not change in place refused before
the call), fork, and delete after its `delete-check`.

Ids: a catalogue agent's id is `org/agent` (its version apart); one of the account's agents is its UUID, which the
management endpoints take. Every agent's `details.ref` is the `org/agent@version` to call it by.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ...core.agents import Agent, AgentScope
from ...core.config import Profile
from ...core.errors import BackendError, InputError, NotFoundError, sentences
from ...core.models import Page, Target
from ...http import segment
from .client import PlatformHttp
from .refs import AgentRef, parse_ref
from .spec import PlatformOptions
from .wire import agent_from, download_from

__all__ = ["IMMUTABLE", "AgentCatalogue"]

IMMUTABLE = ("run_mode", "runtime", "loop", "callable")
_SORTS = ("stars", "recent", "name")


def _matches(agent: Agent, search: str | None, tags: Sequence[str] | None) -> bool:
    if search:
        text = f"{agent.name.replace('-', ' ')} {agent.description or ''}".lower()
        if not all(word in text for word in search.lower().replace("-", " ").split()):
            return False
    return not tags or set(tags) <= set(agent.tags)


def _sorted(agents: list[Agent], sort: str | None) -> list[Agent]:
    if sort == "name":
        return sorted(agents, key=lambda a: a.name)
    if sort == "recent":
        return sorted(agents, key=lambda a: str(a.details.get("created_at") or ""), reverse=True)
    if sort == "stars":
        return sorted(agents, key=lambda a: -int(a.details.get("stars_count") or 0))
    return agents


class AgentCatalogue:
    """`AgentsAPI`, `AgentForkAPI` and `TargetsAPI` (the account's agents are what `runs_start` can run)."""

    wire: PlatformHttp
    profile: Profile
    options: PlatformOptions

    # -- lists ------------------------------------------------------------------------------------------------

    async def list_agents(
        self,
        *,
        cursor: str | None = None,
        limit: int = 50,
        search: str | None = None,
        sort: str | None = None,
        tags: Sequence[str] | None = None,
        scope: AgentScope | None = None,
    ) -> Page[Agent]:
        if sort is not None and sort not in _SORTS:
            raise InputError(f"Unknown sort {sort!r}: orchagent.io sorts by {', '.join(_SORTS)}.")
        if scope == "workspace":
            agents = [a for a in await self._own_agents() if _matches(a, search, tags)]
            agents = _sorted(agents, sort)
        else:
            params: dict[str, str] = {}
            if search:
                params["search"] = search
            if sort:
                params["sort"] = sort
            if tags:
                params["tags"] = ",".join(tags)
            answer = await self.wire.call("GET", "/public/agents", action="list the public agents", params=params)
            items = answer.data if isinstance(answer.data, list) else []
            agents = [agent_from(item, public=True) for item in items if isinstance(item, dict)]
        start = Page.start_of(cursor, size=len(agents))
        end = start + limit
        return Page.of(agents[start:end], next_cursor=str(end) if end < len(agents) else None, total=len(agents))

    async def _own_agents(self) -> list[Agent]:
        answer = await self.wire.call("GET", "/agents", action="list your agents")
        items = answer.data if isinstance(answer.data, list) else []
        return [agent_from(item, public=False) for item in items if isinstance(item, dict)]

    async def list_targets(self, *, cursor: str | None = None, limit: int = 50) -> Page[Target]:
        """The account's agents, each version a target (its id is the `org/agent@version` runs_start calls)."""
        agents = await self._own_agents()
        start = Page.start_of(cursor, size=len(agents))
        end = start + limit
        targets = [_target(a) for a in agents[start:end]]
        return Page.of(targets, next_cursor=str(end) if end < len(agents) else None, total=len(agents))

    async def describe_target(self, target_id: str) -> Target:
        return _target(await self.get_agent(target_id))

    # -- one agent --------------------------------------------------------------------------------------------

    async def get_agent(self, agent_id: str) -> Agent:
        return await self.agent_details(agent_id, download=True)

    async def agent_details(self, agent_id: str, *, download: bool = False) -> Agent:
        """The agent (`download`: with what running it locally takes, one more request)."""
        ref = parse_ref(agent_id)
        if isinstance(ref, str):
            answer = await self._own(ref, action="read the agent")
            return agent_from(answer, public=False)
        try:
            answer = await self.wire.call("GET", f"/public/agents/{ref.path}", action=f"read agent {ref}")
        except NotFoundError:
            own = await self.own_by_ref(ref)  # a private agent of the account's own organisation
            if own is None:
                raise NotFoundError(
                    sentences(f"No agent {ref} on orchagent.io that this key can see", "agents_list finds agents"),
                    backend="platform",
                    status=404,
                ) from None
            return own
        agent = agent_from(answer.data, public=True)
        if download:
            agent.details["download"] = await self._download(ref.with_version(agent.version))
        return agent

    async def own_by_ref(self, ref: AgentRef) -> Agent | None:
        mine = [a for a in await self._own_agents() if a.details.get("org") == ref.org and a.name == ref.name]
        if ref.version == "latest":
            return max(mine, key=lambda a: str(a.details.get("created_at") or ""), default=None)
        return next((a for a in mine if a.version == ref.version), None)

    async def _download(self, ref: AgentRef) -> dict[str, Any]:
        """How to run the agent locally, or why it cannot be (paid, or its author disabled it)."""
        try:
            answer = await self.wire.call("GET", f"/public/agents/{ref.path}/download", action="read the download info")
        except BackendError as exc:
            if exc.status == 403:
                return {"available": False, "code": exc.code, "why": exc.message}
            raise
        return download_from(answer.data)

    async def _own(self, agent_id: str, *, action: str) -> Any:
        try:
            return (await self.wire.call("GET", f"/agents/{segment(agent_id)}", action=action)).data
        except NotFoundError as exc:
            exc.message = sentences(
                exc.message, f"No agent with id {agent_id!r} in this account (agents_list scope=workspace)"
            )
            raise

    async def _own_id(self, agent_id: str) -> str:
        """The id of one of the account's agents named by id or by reference."""
        ref = parse_ref(agent_id)
        if isinstance(ref, str):
            return ref
        own = await self.own_by_ref(ref)
        if own is None:
            raise NotFoundError(
                f"No agent {ref} among your own agents (agents_list scope=workspace)", backend="platform", status=404
            )
        return own.id

    # -- management -------------------------------------------------------------------------------------------

    def _workspace_header(self) -> dict[str, str]:
        return {"X-Workspace-Id": self.options.workspace_id} if self.options.workspace_id else {}

    async def create_agent(self, spec: Mapping[str, Any]) -> Agent:
        if not isinstance(spec.get("name"), str) or not spec.get("name"):
            raise InputError("An agent's spec needs a name (and usually type, description, input_schema, prompt).")
        answer = await self.wire.call(
            "POST", "/agents", action="register the agent", json=dict(spec), headers=self._workspace_header()
        )
        doc = answer.data.get("agent", answer.data) if isinstance(answer.data, dict) else {}
        return agent_from(doc, public=False)

    async def update_agent(self, agent_id: str, changes: Mapping[str, Any]) -> Agent:
        fixed = [key for key in changes if key in IMMUTABLE]
        if fixed:
            raise InputError(
                f"{', '.join(fixed)} cannot be changed on an existing agent: publish a new version instead "
                "(agents_create with the same name and a new version). Nothing was sent."
            )
        agent = await self._own_id(agent_id)
        answer = await self.wire.call(
            "PATCH", f"/agents/{segment(agent)}", action="update the agent", json=dict(changes)
        )
        return agent_from(answer.data, public=False)

    async def _delete_check(self, agent_id: str) -> dict[str, Any]:
        answer = await self.wire.call("GET", f"/agents/{segment(agent_id)}/delete-check", action="check the deletion")
        return answer.data if isinstance(answer.data, dict) else {}

    async def delete_preview(self, agent_id: str) -> str | None:
        agent = await self._own_id(agent_id)
        check = await self._delete_check(agent)
        name = check.get("agent_name") or agent_id
        stars, forks = int(check.get("stars_count") or 0), int(check.get("fork_count") or 0)
        return sentences(
            f"Agent {name} has {stars} star{'s' * (stars != 1)} and {forks} fork{'s' * (forks != 1)}",
            "orchagent.io keeps a deleted agent for 30 days",
        )

    async def delete_agent(self, agent_id: str, *, all_versions: bool = False) -> None:
        agent = await self._own_id(agent_id)
        check = await self._delete_check(agent)  # read again: what the person confirmed may be stale
        params: dict[str, str] = {}
        if check.get("requires_confirmation") and isinstance(check.get("agent_name"), str):
            params["confirmation_name"] = check["agent_name"]
        if all_versions:
            params["mode"] = "all_versions"
        await self.wire.call("DELETE", f"/agents/{segment(agent)}", action="delete the agent", params=params)

    async def fork_agent(self, agent_id: str, *, new_name: str | None = None, workspace_id: str | None = None) -> Agent:
        ref = parse_ref(agent_id)
        source = ref if isinstance(ref, str) else (await self.get_agent(agent_id)).details.get("uuid")
        if not isinstance(source, str) or not source:
            raise NotFoundError(f"orchagent.io gave no id for agent {agent_id}", backend="platform", status=404)
        body = {k: v for k, v in (("new_name", new_name), ("workspace_id", workspace_id)) if v}
        answer = await self.wire.call("POST", f"/agents/{segment(source)}/fork", action="fork the agent", json=body)
        doc = answer.data if isinstance(answer.data, dict) else {}
        if isinstance(doc.get("agent"), dict):
            return agent_from(doc["agent"], public=False)
        if isinstance(doc.get("agent_id"), str):  # older servers answer with the new id only
            return agent_from(await self._own(doc["agent_id"], action="read the fork"), public=False)
        raise BackendError("orchagent.io forked the agent but did not say which is the copy", backend="platform")


def _target(agent: Agent) -> Target:
    return Target(
        id=str(agent.details.get("ref") or agent.id),
        name=agent.name,
        kind="agent",
        description=agent.description,
        input_schema=agent.input_schema,
        details={k: v for k, v in agent.details.items() if k in ("uuid", "type", "default_endpoint", "version")},
    )
