"""The orq.ai agent CRUD routes, external (A2A) agents, and the sandbox's stand-in for orq.ai's review UI.

* `POST /v2/agents` → 201 with the agent; a key in use → 409 `{"message"}`; a missing required field → 400.
* `GET /v2/agents?limit=&starting_after=&ending_before=&type=` → `{"object": "list", "data": [...], "has_more"}`,
  newest first; no `limit`: every agent. Without `type`, external A2A agents are listed too (`type: "a2a"`);
  `type=internal` (the only value the official client's model has) lists orq.ai's own agents only.
* `GET|PATCH|DELETE /v2/agents/{agent_key}` → the agent / the updated agent / 204; an unknown key → 404
  `{"message": "Agent not found"}`. PATCH takes any subset of the create fields, `versionIncrement`
  (`major`|`minor`|`patch`) and `versionDescription` (so the official client spells them; kept as the agent's
  `version_description`); any other field is refused (400).
* `POST /v2/agents/external` registers an external A2A agent (its card "fetched" from `agent_url`);
  `POST /v2/agents/external/{agent_key}:refreshCard` refreshes it; `GET` / `DELETE /v2/agents/external/{agent_key}`
  read it (`{"agent"}`) / delete it (200 `{}`); `GET /v2/agents/external` lists them.
* `POST /_sandbox/orq/reviews/{task_id}` `{"review": "approved"|"rejected"}`: a person's decision in orq.ai's UI.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .state import PROJECT, OrqState, agent_doc, now_iso

__all__ = ["Routes", "error", "read_json"]

REQUIRED = ("key", "role", "description", "instructions", "path", "model", "settings")
_EDITABLE = (*REQUIRED, "display_name", "system_prompt", "fallback_models", "memory_stores", "knowledge_bases")
_EDITABLE_MORE = ("team_of_agents", "variables", "engine", "project_id")


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


async def read_json(request: Request) -> dict[str, Any] | JSONResponse:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError:
        return error(400, "The request body is not valid JSON")
    return body if isinstance(body, dict) else error(400, "The request body must be a JSON object")


def _bump(version: str, part: str) -> str:
    numbers = [int(n) if n.isdigit() else 0 for n in version.removeprefix("v").split(".")[:3]]
    major, minor, patch = [*numbers, 0, 0, 0][:3]
    if part == "major":
        return f"v{major + 1}.0.0"
    if part == "minor":
        return f"v{major}.{minor + 1}.0"
    return f"v{major}.{minor}.{patch + 1}"


def _listed_external(doc: dict[str, Any]) -> dict[str, Any]:
    """An external A2A agent as `GET /v2/agents` lists it (`type: "a2a"`)."""
    return {
        "_id": doc["agent_id"],
        "key": doc["key"],
        "display_name": doc["display_name"],
        "status": "live",
        "path": doc["path"],
        "role": "External A2A agent",
        "description": doc["description"],
        "instructions": "",
        "model": {"id": "a2a"},
        "type": "a2a",
        "version": doc["version"],
        "created": doc["created_at"],
        "updated": doc["updated_at"],
    }


class Routes:
    def __init__(self, state: OrqState) -> None:
        self.s = state

    async def create(self, request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        missing = [k for k in REQUIRED if k not in body]
        if missing:
            return error(400, f"Missing required fields: {', '.join(missing)}")
        if body["key"] in self.s.agents:
            return error(409, f"An agent with key {body['key']!r} already exists")
        doc = agent_doc(self.s.new_id(), body, created=now_iso())
        self.s.agents[doc["key"]] = doc
        return JSONResponse(doc, status_code=201)

    async def list(self, request: Request) -> Response:
        query = request.query_params
        kind = query.get("type")
        if kind not in (None, "internal"):  # the only filter the official client's model has
            return error(400, "type must be internal")
        items = self.s.agents_by_id()
        if kind is None:  # external A2A agents are listed too, as `type: "a2a"`
            items = sorted([*items, *map(_listed_external, self.s.external.values())], key=lambda a: a["_id"])[::-1]
        raw_limit = query.get("limit")
        try:  # the official client sends a float ("2.0")
            limit = int(float(raw_limit)) if raw_limit is not None else None
        except ValueError:
            limit = 0
        if limit is not None and not 1 <= limit <= 200:
            return error(400, "limit must be between 1 and 200")
        ids = [a["_id"] for a in items]
        after, before = query.get("starting_after"), query.get("ending_before")
        for cursor in (after, before):
            if cursor and cursor not in ids:
                return error(400, f"Cursor {cursor!r} does not name an agent")
        if after:
            items = items[ids.index(after) + 1 :]
        if limit is None:
            return JSONResponse({"object": "list", "data": items, "has_more": False})
        if before:
            window = items[: ids.index(before)]
            page, more = window[-limit:], len(window) > limit
        else:
            page, more = items[:limit], len(items) > limit
        return JSONResponse({"object": "list", "data": page, "has_more": more})

    def _agent(self, request: Request) -> dict[str, Any] | None:
        return self.s.agents.get(request.path_params["agent_key"])

    async def retrieve(self, request: Request) -> Response:
        agent = self._agent(request)
        return JSONResponse(agent) if agent else error(404, "Agent not found")

    async def update(self, request: Request) -> Response:
        agent = self._agent(request)
        if agent is None:
            return error(404, "Agent not found")
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        # The versioning fields as the official client's model names them on the wire (its aliases).
        versioning = {"versionIncrement", "versionDescription"}
        unknown = sorted(set(body) - {*_EDITABLE, *_EDITABLE_MORE, "a2a", *versioning})
        if unknown:
            return error(400, f"Unknown fields: {', '.join(unknown)}")
        increment = body.pop("versionIncrement", None)
        if increment not in (None, "major", "minor", "patch"):
            return error(400, "versionIncrement must be major, minor or patch")
        described = body.pop("versionDescription", None)
        if described is not None and not isinstance(described, str):
            return error(400, "versionDescription must be a string")
        body.pop("a2a", None)
        new_key = body.get("key", agent["key"])
        if new_key != agent["key"] and new_key in self.s.agents:
            return error(409, f"An agent with key {new_key!r} already exists")
        merged = {**agent, **body}
        if isinstance(body.get("settings"), dict):
            merged["settings"] = {**agent["settings"], **body["settings"]}
        doc = agent_doc(agent["_id"], merged, created=agent["created"], version=agent["version"])
        doc["updated"] = now_iso()
        if increment:
            doc["version"] = _bump(agent["version"], increment)
        if described is not None:
            doc["version_description"] = described  # kept with the agent's (new) version
        del self.s.agents[agent["key"]]
        self.s.agents[doc["key"]] = doc
        return JSONResponse(doc)

    async def delete(self, request: Request) -> Response:
        agent = self._agent(request)
        if agent is None:
            return error(404, "Agent not found")
        del self.s.agents[agent["key"]]
        return Response(status_code=204)

    # -- external A2A agents -----------------------------------------------------------------------------------

    def _external(self, body: dict[str, Any], agent_id: str, created: str) -> dict[str, Any]:
        now = now_iso()
        return {
            "agent_id": agent_id,
            "key": body["key"],
            "display_name": body["display_name"],
            "description": body.get("description") or "",
            "path": body["path"],
            "project_id": body.get("project_id") or PROJECT,
            "agent_url": body["agent_url"],
            "headers": {k: {"encrypted": True} for k in (body.get("headers") or {})},  # values never echoed
            "protocol_version": body.get("protocol_version") or "0.3.0",
            "preferred_transport": body.get("preferred_transport") or "JSONRPC",
            "cached_card": {"name": body["display_name"], "url": body["agent_url"], "skills": []},
            "created_at": created,
            "updated_at": now,
            "created_by_id": "usr_sandbox",
            "updated_by_id": "usr_sandbox",
            "version": "1",
            "card_refreshed_at": now,
        }

    async def create_external(self, request: Request) -> Response:
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        missing = [k for k in ("key", "display_name", "path", "agent_url") if not body.get(k)]
        if missing:
            return error(400, f"Missing required fields: {', '.join(missing)}")
        if body["key"] in self.s.external or body["key"] in self.s.agents:
            return error(409, f"An agent with key {body['key']!r} already exists")
        if not str(body["agent_url"]).startswith(("https://", "http://")):
            return error(400, "Could not fetch the agent card: agent_url is not a web address")
        doc = self._external(body, self.s.new_id(), now_iso())
        self.s.external[body["key"]] = doc
        return JSONResponse({"agent": doc})

    async def list_external(self, request: Request) -> Response:
        return JSONResponse({"object": "list", "data": list(self.s.external.values()), "has_more": False})

    async def get_external(self, request: Request) -> Response:
        doc = self.s.external.get(request.path_params["agent_key"])
        return JSONResponse({"agent": doc}) if doc else error(404, "Agent not found")

    async def delete_external(self, request: Request) -> Response:
        doc = self.s.external.pop(request.path_params["agent_key"], None)
        return JSONResponse({}) if doc else error(404, "Agent not found")

    async def refresh_card(self, request: Request) -> Response:
        key = str(request.path_params["agent_key"])
        if not key.endswith(":refreshCard"):
            return error(404, "Not found")
        doc = self.s.external.get(key.removesuffix(":refreshCard"))
        if doc is None:
            return error(404, "Agent not found")
        doc["card_refreshed_at"] = doc["updated_at"] = now_iso()
        return JSONResponse({"agent": doc})

    # -- the review "UI" ----------------------------------------------------------------------------------------

    async def review(self, request: Request) -> Response:
        task = self.s.tasks.get(request.path_params["task_id"])
        if task is None:
            return error(404, "Task not found")
        body = await read_json(request)
        if isinstance(body, JSONResponse):
            return body
        if body.get("review") not in ("approved", "rejected"):
            return error(400, "review must be approved or rejected")
        if task.awaiting_review is None:
            return error(409, "The task is not waiting for a review")
        task.decision = body["review"]
        task.review.set()
        return JSONResponse({"task_id": task.id, "review": task.decision, "what": task.awaiting_review})
