"""orq.ai agents: list (cursor pagination), retrieve, create, partial update, delete; external A2A agents registered,
read, deleted and their cards refreshed through the same calls (docs/backends/orq.md).

Reads are retried on 429 and 5xx by the HTTP client; writes are not (a create sent twice fails on its key, an
update with `version_increment` sent twice bumps the version twice).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

from ...core.agents import Agent, AgentScope
from ...core.errors import CursorError, InputError, NotFoundError, UnsupportedError, sentences
from ...core.models import Page
from ...http import HttpClient, segment
from .wire import as_dict, to_agent

__all__ = ["AgentsCrud"]

_CREATE_REQUIRED = ("key", "role", "description", "instructions", "path", "model", "settings")
_VERSIONING = {"version_increment": "versionIncrement", "version_description": "versionDescription"}
_EXTERNAL = ("agent_url",)


def _cursor(raw: str | None) -> tuple[str, str] | None:
    """`after:<id>` or `before:<id>` (opaque to callers: base64 of that)."""
    if not raw:
        return None
    try:
        direction, _, agent_id = base64.urlsafe_b64decode(raw.encode()).decode().partition(":")
    except ValueError:
        raise CursorError(raw) from None
    if direction not in ("after", "before") or not agent_id or len(agent_id) > 200:
        raise CursorError(raw)
    return direction, agent_id


def _encode(direction: str, agent_id: str) -> str:
    return base64.urlsafe_b64encode(f"{direction}:{agent_id}".encode()).decode()


class AgentsCrud:
    """The agent endpoints of one profile."""

    def __init__(self, http: HttpClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url

    def _missing(self, exc: NotFoundError, agent_key: str) -> NotFoundError:
        exc.message = sentences(
            exc.message, f"No agent with key {agent_key!r} on {self.base_url} for this API key (agents_list shows them)"
        )
        return exc

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
        """Newest first; `next_cursor` goes on to older agents. orq.ai lists only the workspace's own agents
        (`scope: workspace`, its `type=internal` filter) and has no search, sort or tags."""
        if search or sort or tags:
            raise UnsupportedError("orq.ai lists agents newest first and cannot search, sort or filter them by tag.")
        if scope == "public":
            raise UnsupportedError("orq.ai has no public agent catalogue: it lists the workspace's own agents.")
        params: dict[str, Any] = {"limit": max(1, min(limit, 200))}
        if scope == "workspace":
            params["type"] = "internal"
        where = _cursor(cursor)
        if where is not None:
            params["starting_after" if where[0] == "after" else "ending_before"] = where[1]
        doc = as_dict(await self.http.json("GET", "/v2/agents", action="list the agents", params=params))
        items = [as_dict(a) for a in doc.get("data") or []]
        agents = [to_agent(a) for a in items]
        last = str(items[-1].get("_id") or "") if items else ""
        more = bool(doc.get("has_more"))
        if where is not None and where[0] == "before":
            more = True  # a page read backwards always has the newer page it was read from after it
        return Page[Agent].of(agents, _encode("after", last) if more and last else None)

    async def get_agent(self, agent_id: str) -> Agent:
        doc = await self._doc(agent_id)
        return _external_agent(doc) if "agent_url" in doc else to_agent(doc)

    async def _doc(self, agent_key: str) -> dict[str, Any]:
        """The agent, or else the external A2A agent, of that key (orq.ai keeps external agents apart)."""
        try:
            return as_dict(
                await self.http.json("GET", f"/v2/agents/{segment(agent_key)}", action=f"read agent {agent_key!r}")
            )
        except NotFoundError as exc:
            missing = exc
        path = f"/v2/agents/external/{segment(agent_key)}"
        try:
            doc = as_dict(await self.http.json("GET", path, action=f"read external agent {agent_key!r}"))
        except NotFoundError:
            raise self._missing(missing, agent_key) from None
        return as_dict(doc.get("agent"))  # an external agent's always has its `agent_url`

    async def create_agent(self, spec: Mapping[str, Any]) -> Agent:
        """`spec` is orq.ai's create body; with `agent_url` it registers an external A2A agent instead."""
        if any(k in spec for k in _EXTERNAL):
            return await self.register_a2a(spec)
        missing = [k for k in _CREATE_REQUIRED if k not in spec]
        if missing:
            raise InputError(
                f"An orq.ai agent needs {', '.join(_CREATE_REQUIRED)}; missing: {', '.join(missing)}. (An external "
                "A2A agent needs key, display_name, path and agent_url.)"
            )
        doc = await self.http.json("POST", "/v2/agents", action=f"create agent {spec['key']!r}", json=dict(spec))
        return to_agent(as_dict(doc))

    async def update_agent(self, agent_id: str, changes: Mapping[str, Any]) -> Agent:
        """A partial update: only `changes` are sent; `version_increment` (major | minor | patch) and
        `version_description` are sent as the official client spells them. `{"refresh_card": true}` (alone) has
        orq.ai read an external A2A agent's card again."""
        if "refresh_card" in changes:
            if dict(changes) != {"refresh_card": True}:
                raise InputError('{"refresh_card": true} refreshes an external agent\'s card and goes alone.')
            return await self.refresh_card(agent_id)
        body = {_VERSIONING.get(k, k): v for k, v in changes.items()}
        increment = body.get("versionIncrement")
        if increment is not None and increment not in ("major", "minor", "patch"):
            raise InputError("version_increment must be major, minor or patch.")
        try:
            doc = await self.http.json(
                "PATCH", f"/v2/agents/{segment(agent_id)}", action=f"update agent {agent_id!r}", json=body
            )
        except NotFoundError as exc:
            raise self._missing(exc, agent_id) from None
        return to_agent(as_dict(doc))

    async def delete_preview(self, agent_id: str) -> str | None:
        """What deleting affects, from the agent itself (orq.ai has no delete check)."""
        doc = await self._doc(agent_id)
        version = doc.get("version")
        return sentences(
            f"orq.ai deletes agent {agent_id!r}{f' ({version})' if version else ''} at once and for good: its key can "
            "be used again, and tasks already started are not stopped"
        )

    async def delete_agent(self, agent_id: str, *, all_versions: bool = False) -> None:
        """The agent, or else the external A2A agent, of that key."""
        if all_versions:
            raise UnsupportedError("orq.ai deletes an agent with all its versions: call without all_versions.")
        try:
            await self.http.request("DELETE", f"/v2/agents/{segment(agent_id)}", action=f"delete agent {agent_id!r}")
            return
        except NotFoundError as exc:
            missing = exc
        path = f"/v2/agents/external/{segment(agent_id)}"
        try:
            await self.http.request("DELETE", path, action=f"delete external agent {agent_id!r}")
        except NotFoundError:
            raise self._missing(missing, agent_id) from None

    # -- external A2A agents ---------------------------------------------------------------------------------------

    async def register_a2a(self, spec: Mapping[str, Any]) -> Agent:
        """`POST /v2/agents/external`: orq.ai fetches the agent's card from `agent_url` and caches it."""
        missing = [k for k in ("key", "display_name", "path", "agent_url") if not spec.get(k)]
        if missing:
            raise InputError(f"An external A2A agent needs key, display_name, path and agent_url; missing: {missing}.")
        if "headers" in spec:
            raise InputError(
                "Headers for an external agent carry credentials: set them in orq.ai, never through runbridge."
            )
        doc = as_dict(
            await self.http.json("POST", "/v2/agents/external", action="register the A2A agent", json=dict(spec))
        )
        return _external_agent(as_dict(doc.get("agent")))

    async def refresh_card(self, agent_key: str) -> Agent:
        """`POST /v2/agents/external/{key}:refreshCard`: orq.ai reads the agent's card again."""
        path = f"/v2/agents/external/{segment(agent_key)}:refreshCard"
        try:
            doc = as_dict(await self.http.json("POST", path, action="refresh the agent card", json={}, retry=True))
        except NotFoundError as exc:
            raise self._missing(exc, agent_key) from None
        return _external_agent(as_dict(doc.get("agent")))


def _external_agent(doc: dict[str, Any]) -> Agent:
    card = as_dict(doc.get("cached_card"))
    details = {
        "type": "a2a",
        "agent_id": doc.get("agent_id"),
        "agent_url": doc.get("agent_url"),
        "protocol_version": doc.get("protocol_version"),
        "card_refreshed_at": doc.get("card_refreshed_at"),
        "card": {k: card[k] for k in ("name", "url") if k in card},
    }
    return Agent(
        id=str(doc.get("key") or ""),
        name=str(doc.get("display_name") or doc.get("key") or ""),
        description=str(doc["description"]) if doc.get("description") else None,
        version=str(doc["version"]) if doc.get("version") else None,
        details={k: v for k, v in details.items() if v not in (None, {}, "")},
    )
