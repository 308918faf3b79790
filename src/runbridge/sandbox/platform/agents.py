"""The public catalogue (`/public/agents...`, no key needed) and the account's agent management (`/agents...`), in
the shapes the official CLI reads (docs/backends/platform.md names the CLI file of each)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .catalogue import ORG, PERSONAL_WS, AgentVersion, iso
from .state import PlatformState
from .wire import error, reply

__all__ = ["AgentRoutes", "public_agent"]

IMMUTABLE = ("run_mode", "runtime", "loop", "callable")
_PATCHABLE = {
    "description",
    "tags",
    "is_public",
    "input_schema",
    "output_schema",
    "prompt",
    "default_endpoint",
    "supported_providers",
    "required_secrets",
    "allow_local_download",
    "pricing_mode",
    "price_per_call_cents",
}
_SORTS: dict[str, Callable[[AgentVersion], Any]] = {
    "stars": lambda a: -a.stars_count,
    "recent": lambda a: _neg(a.created_at),
    "name": lambda a: a.name,
}


def _neg(stamp: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in stamp)


def public_agent(a: AgentVersion) -> dict[str, Any]:
    """`PublicAgent`: a catalogue entry."""
    return {
        "id": a.id,
        "org_name": a.org.title(),
        "org_slug": a.org,
        "name": a.name,
        "version": a.version,
        "type": a.type,
        "description": a.description,
        "stars_count": a.stars_count,
        "tags": a.tags,
        "default_endpoint": a.default_endpoint,
        "created_at": a.created_at,
        "supported_providers": a.supported_providers,
        "is_public": a.is_public,
        "pricing_mode": a.pricing_mode,
        "price_per_call_cents": a.price_per_call_cents,
    }


def _details(a: AgentVersion) -> dict[str, Any]:
    return {
        **public_agent(a),
        "org_id": f"org_{a.org}",
        "input_schema": a.input_schema,
        "output_schema": a.output_schema,
        "execution_engine": a.execution_engine,
        "run_mode": a.run_mode,
        "callable": a.callable,
    }


def _own(a: AgentVersion) -> dict[str, Any]:
    """`Agent`: one of the account's agents, with the canonical fields `GET /agents/{id}` includes."""
    return {
        **_details(a),
        "workspace_id": a.workspace_id,
        "fork_count": a.fork_count,
        "required_secrets": a.required_secrets,
        "allow_local_download": a.allow_local_download,
        "source_url": a.source_url,
        "runtime": None,
        "loop": {"max_turns": a.max_turns} if a.max_turns else None,
    }


class AgentRoutes:
    def __init__(self, state: PlatformState) -> None:
        self.s = state

    # -- the public catalogue ---------------------------------------------------------------------------------

    async def list_public(self, request: Request) -> Response:
        q = request.query_params
        newest: dict[tuple[str, str], AgentVersion] = {}
        for a in self.s.live_agents():
            if a.is_public and (
                newest.get((a.org, a.name)) is None or a.created_at > newest[(a.org, a.name)].created_at
            ):
                newest[(a.org, a.name)] = a
        agents = list(newest.values())
        if q.get("type"):
            agents = [a for a in agents if a.type == q["type"]]
        if q.get("search"):
            words = q["search"].lower().replace("-", " ").split()
            agents = [
                a for a in agents if all(w in f"{a.name.replace('-', ' ')} {a.description}".lower() for w in words)
            ]
        if q.get("tags"):
            wanted = {t.strip() for t in q["tags"].split(",") if t.strip()}
            agents = [a for a in agents if wanted <= set(a.tags)]
        sort = q.get("sort") or "stars"
        if sort not in _SORTS:
            return error(400, "INVALID_INPUT", f"Unknown sort {sort!r}: use stars, recent or name")
        agents.sort(key=_SORTS[sort])
        return reply(self.s, [public_agent(a) for a in agents])

    def _version(self, request: Request) -> AgentVersion | Response:
        p = request.path_params
        agent = self.s.find_version(p["org"], p["agent"], p["version"])
        if agent is None or not agent.is_public:
            return error(404, "NOT_FOUND", f"Agent '{p['org']}/{p['agent']}@{p['version']}' not found")
        return agent

    async def get_public(self, request: Request) -> Response:
        agent = self._version(request)
        return agent if isinstance(agent, Response) else reply(self.s, _details(agent))

    async def download(self, request: Request) -> Response:
        agent = self._version(request)
        if isinstance(agent, Response):
            return agent
        if agent.pricing_mode != "free":
            return error(403, "PAID_AGENT_SERVER_ONLY", "Paid agents run on the server only: call them through the API")
        if not agent.allow_local_download:
            return error(403, "DOWNLOAD_DISABLED", "The author disabled local download of this agent")
        return reply(
            self.s,
            {
                "type": agent.type,
                "run_mode": agent.run_mode,
                "execution_engine": agent.execution_engine,
                "callable": agent.callable,
                "prompt": f"You are {agent.name}.",
                "input_schema": agent.input_schema,
                "output_schema": agent.output_schema,
                "supported_providers": agent.supported_providers,
                "default_models": {"openai": "gpt-4o-mini"},
                "source_url": agent.source_url,
                "pip_package": None,
                "run_command": None,
                "files": [],
                "has_bundle": False,
                "entrypoint": None,
                "dependencies": [],
            },
        )

    # -- the account's agents -----------------------------------------------------------------------------------

    async def list_mine(self, request: Request) -> Response:
        return reply(self.s, [_own(a) for a in self.s.live_agents() if a.org == ORG])

    async def _body(self, request: Request) -> dict[str, Any] | Response:
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return error(400, "INVALID_INPUT", "The body is not JSON")
        return body if isinstance(body, dict) else error(400, "INVALID_INPUT", "The body must be a JSON object")

    async def create(self, request: Request) -> Response:
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        name = body.get("name")
        if not isinstance(name, str) or not name:
            return error(400, "INVALID_INPUT", "name is required")
        versions = [a for a in self.s.live_agents() if a.org == ORG and a.name == name]
        version = str(body.get("version") or f"v{len(versions) + 1}")
        if any(a.version == version for a in versions):
            return error(409, "CONFLICT", f"{ORG}/{name}@{version} exists already: publish a new version")
        agent = AgentVersion(
            ORG,
            name,
            version,
            str(body.get("description") or ""),
            type=str(body.get("type") or "prompt"),
            run_mode=str(body.get("run_mode") or "on_demand"),
            is_public=bool(body.get("is_public")),
            tags=list(body.get("tags") or []),
            input_schema=dict(body.get("input_schema") or {}),
            output_schema=dict(body.get("output_schema") or {}),
            required_secrets=list(body.get("required_secrets") or []),
            created_at=iso_now(),
            workspace_id=request.headers.get("x-workspace-id") or PERSONAL_WS,
        )
        self.s.data.agents.append(agent)
        return reply(self.s, {"agent": _own(agent)}, status=201)

    def _mine(self, request: Request) -> AgentVersion | Response:
        agent = self.s.own_agent(request.path_params["agent_id"])
        return agent if agent is not None else error(404, "NOT_FOUND", "Agent not found")

    async def get_mine(self, request: Request) -> Response:
        agent = self._mine(request)
        return agent if isinstance(agent, Response) else reply(self.s, _own(agent))

    async def update(self, request: Request) -> Response:
        agent, body = self._mine(request), await self._body(request)
        if isinstance(agent, Response) or isinstance(body, Response):
            return agent if isinstance(agent, Response) else body  # type: ignore[return-value]
        fixed = [k for k in body if k in IMMUTABLE]
        if fixed:
            return error(400, "IMMUTABLE_FIELD", f"{', '.join(fixed)} cannot be changed: publish a new version")
        unknown = [k for k in body if k not in _PATCHABLE]
        if unknown:
            return error(400, "INVALID_INPUT", f"Unknown fields: {', '.join(unknown)}")
        for key, value in body.items():
            if hasattr(agent, key):
                setattr(agent, key, value)
        return reply(self.s, _own(agent))

    async def delete_check(self, request: Request) -> Response:
        agent = self._mine(request)
        if isinstance(agent, Response):
            return agent
        return reply(
            self.s,
            {
                "agent_id": agent.id,
                "agent_name": agent.name,
                "stars_count": agent.stars_count,
                "fork_count": agent.fork_count,
                "requires_confirmation": agent.stars_count > 0 or agent.fork_count > 0,
            },
        )

    async def delete(self, request: Request) -> Response:
        agent = self._mine(request)
        if isinstance(agent, Response):
            return agent
        needs = agent.stars_count > 0 or agent.fork_count > 0
        if needs and request.query_params.get("confirmation_name") != agent.name:
            return error(400, "CONFIRMATION_REQUIRED", f"Deleting {agent.name} needs confirmation_name={agent.name}")
        every = request.query_params.get("mode") == "all_versions"
        for a in self.s.live_agents():
            if a is agent or (every and a.org == agent.org and a.name == agent.name):
                a.deleted = True
        return reply(self.s, {"deleted": True, "agent_id": agent.id, "agent_name": agent.name})

    async def fork(self, request: Request) -> Response:
        source, body = self.s.any_agent(request.path_params["agent_id"]), await self._body(request)
        if isinstance(body, Response):
            return body
        if source is None:
            return error(404, "NOT_FOUND", "Agent not found")
        if not source.is_public or not source.source_url:
            return error(403, "FORK_NOT_ALLOWED", "Only public, source-available agents can be forked")
        name = str(body.get("new_name") or source.name)
        workspace = str(body.get("workspace_id") or PERSONAL_WS)
        if workspace not in self.s.workspace_ids():
            return error(404, "NOT_FOUND", f"Workspace {workspace} not found")
        if any(a.org == ORG and a.name == name for a in self.s.live_agents()):
            return error(409, "CONFLICT", f"You already have an agent named {name}: pass new_name")
        copy = AgentVersion(
            ORG,
            name,
            "v1",
            source.description,
            type=source.type,
            execution_engine=source.execution_engine,
            tags=list(source.tags),
            is_public=False,
            input_schema=source.input_schema,
            output_schema=source.output_schema,
            behaviour=source.behaviour,
            max_turns=source.max_turns,
            default_endpoint=source.default_endpoint,
            created_at=iso_now(),
            workspace_id=workspace,
        )
        self.s.data.agents.append(copy)
        source.fork_count += 1
        return reply(self.s, {"agent": _own(copy)}, status=201)


def iso_now() -> str:
    return iso(datetime.now(UTC))
