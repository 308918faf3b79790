"""The account's settings on the platform sandbox: workspaces (create, members, invite), workspace secrets, billing
and API keys.

Where the API overview and the official CLI name different paths (billing, secrets), the sandbox serves one set:
the documented paths in the `enveloped` variant (which answers as the overview documents), the CLI's otherwise
(`GET /billing/credits`, `POST /billing/add-credits`, `POST /secrets` + `PATCH`/`DELETE /secrets/{secret_id}`).
Secret values and new API keys are kept, never served back: secrets are listed by name, and the sandbox's own
`GET /_sandbox/platform/secret-digest?workspace=&name=` gives a value's SHA-256 for tests.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..middleware import ADMIN_PREFIX
from .catalogue import iso
from .state import PlatformState
from .wire import error, json_body, reply, workspace_of

__all__ = ["routes"]

_SECRET_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,127}$")
MIN_CHECKOUT_CENTS = 500


def _now() -> str:
    return iso(datetime.now(UTC))


class AccountRoutes:
    def __init__(self, state: PlatformState) -> None:
        self.s = state
        self.values: dict[tuple[str, str], str] = {}  # (workspace, name) -> value: never served
        self.invitations: dict[str, list[dict[str, Any]]] = {}
        self.issued_keys: dict[str, str] = {}  # key id -> the key: never served again

    # -- workspaces -----------------------------------------------------------------------------------------------

    async def create_workspace(self, request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        name = str(body.get("name") or "").strip()
        if not name:
            return error(400, "INVALID_INPUT", "name is required")
        slug = str(body.get("slug") or re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-"))
        if any(w["slug"] == slug for w in self.s.data.workspaces):
            return error(409, "CONFLICT", f"A workspace with slug {slug!r} already exists")
        doc = {"id": f"ws_{uuid.uuid4().hex[:12]}", "name": name, "slug": slug, "type": "team"}
        self.s.data.workspaces.append(doc)
        self.s.data.members[doc["id"]] = [{"user_id": "usr_acme", "email": "owner@acme.example", "role": "owner"}]
        return reply(self.s, {"workspace": doc}, status=201)

    async def members(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        return reply(self.s, {"members": self.s.data.members.get(ws, []), "invitations": self.invitations.get(ws, [])})

    async def invite(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        email, role = str(body.get("email") or ""), str(body.get("role") or "member")
        if "@" not in email:
            return error(400, "INVALID_INPUT", "email must be an email address")
        if role not in ("member", "admin"):
            return error(400, "INVALID_INPUT", "role must be member or admin")
        doc = {"id": str(uuid.uuid4()), "email": email, "role": role, "status": "pending", "created_at": _now()}
        self.invitations.setdefault(ws, []).append(doc)
        return reply(self.s, {"invitation": doc}, status=201)

    # -- secrets --------------------------------------------------------------------------------------------------

    @property
    def documented(self) -> bool:
        return self.s.variant.envelope_everything

    async def list_secrets(self, request: Request) -> Response:
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        return reply(self.s, {"secrets": self.s.data.secrets.get(ws, [])})

    def _store(self, ws: str, name: str, value: str, description: Any) -> dict[str, Any]:
        self.s.set_secret(ws, name, True)
        doc = next(s for s in self.s.data.secrets[ws] if s["name"] == name)
        doc["description"] = description
        self.values[(ws, name)] = value
        return doc

    async def put_secret(self, request: Request) -> Response:  # documented: create or update
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        if not self.documented:
            return error(405, "METHOD_NOT_ALLOWED", "Method Not Allowed")
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        name, value = str(body.get("name") or ""), body.get("value")
        if not _SECRET_NAME.match(name) or not isinstance(value, str) or not value:
            return error(400, "INVALID_INPUT", "name must match ^[A-Z][A-Z0-9_]*$ and value must be a non-empty string")
        return reply(self.s, {"secret": self._store(ws, name, value, body.get("description"))})

    async def post_secret(self, request: Request) -> Response:  # CLI: create
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        if self.documented:
            return error(405, "METHOD_NOT_ALLOWED", "Method Not Allowed")
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        name, value = str(body.get("name") or ""), body.get("value")
        if not _SECRET_NAME.match(name) or not isinstance(value, str) or not value:
            return error(400, "INVALID_INPUT", "name must match ^[A-Z][A-Z0-9_]*$ and value must be a non-empty string")
        if name in self.s.secret_names(ws):
            return error(409, "CONFLICT", f"Secret {name} already exists; update it with PATCH")
        return reply(self.s, {"secret": self._store(ws, name, value, body.get("description"))}, status=201)

    async def patch_secret(self, request: Request) -> Response:  # CLI: update by id
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        found = next((s for s in self.s.data.secrets.get(ws, []) if s["id"] == request.path_params["key"]), None)
        if self.documented or found is None:
            return error(404, "NOT_FOUND", "Secret not found")
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        if not isinstance(body.get("value"), str) or not body["value"]:
            return error(400, "INVALID_INPUT", "value must be a non-empty string")
        self._store(ws, found["name"], body["value"], body.get("description", found.get("description")))
        return reply(self.s, {"updated": True, "restarted_services": []})

    async def delete_secret(self, request: Request) -> Response:  # documented: by name; CLI: by id
        ws = workspace_of(self.s, request)
        if isinstance(ws, Response):
            return ws
        key = request.path_params["key"]
        field = "name" if self.documented else "id"
        found = next((s for s in self.s.data.secrets.get(ws, []) if s[field] == key), None)
        if found is None:
            return error(404, "NOT_FOUND", "Secret not found")
        self.s.set_secret(ws, found["name"], False)
        self.values.pop((ws, found["name"]), None)
        return reply(self.s, {"deleted": True})

    async def digest(self, request: Request) -> Response:
        value = self.values.get((request.query_params.get("workspace", ""), request.query_params.get("name", "")))
        return JSONResponse({"sha256": hashlib.sha256(value.encode()).hexdigest() if value else None})

    # -- billing --------------------------------------------------------------------------------------------------

    async def balance(self, request: Request) -> Response:
        if self.documented != (request.url.path == "/billing/balance"):
            return error(404, "NOT_FOUND", "Not Found")
        recent = list(reversed(self.s.data.transactions))[:10]
        return reply(self.s, {"balance_cents": self.s.data.balance_cents, "recent_transactions": recent})

    async def history(self, request: Request) -> Response:
        return reply(self.s, {"transactions": list(reversed(self.s.data.transactions))})

    async def checkout(self, request: Request) -> Response:
        if self.documented != (request.url.path == "/billing/checkout"):
            return error(404, "NOT_FOUND", "Not Found")
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        amount = body.get("amount_cents")
        if not isinstance(amount, int) or amount < MIN_CHECKOUT_CENTS:
            return error(400, "INVALID_INPUT", f"amount_cents must be an integer of at least {MIN_CHECKOUT_CENTS}")
        session = f"cs_test_{secrets.token_hex(8)}"
        return reply(self.s, {"checkout_url": f"https://checkout.stripe.example/pay/{session}", "session_id": session})

    # -- API keys -------------------------------------------------------------------------------------------------

    async def list_keys(self, request: Request) -> Response:
        return reply(self.s, {"api_keys": self.s.data.api_keys})

    async def create_key(self, request: Request) -> Response:
        body = await json_body(request)
        if isinstance(body, Response):
            return body
        name = str(body.get("name") or "").strip()
        if not name:
            return error(400, "INVALID_INPUT", "name is required")
        key = f"sk_live_{secrets.token_hex(20)}"
        kid = str(uuid.uuid4())
        doc = {"id": kid, "name": name, "prefix": key[:12], "created_at": _now(), "last_used_at": None}
        self.s.data.api_keys.append(doc)
        self.issued_keys[kid] = key
        return reply(self.s, {"api_key": doc, "key": key}, status=201)

    async def delete_key(self, request: Request) -> Response:
        kid = request.path_params["key_id"]
        if not any(k["id"] == kid for k in self.s.data.api_keys):
            return error(404, "NOT_FOUND", "API key not found")
        self.s.data.api_keys = [k for k in self.s.data.api_keys if k["id"] != kid]
        self.issued_keys.pop(kid, None)
        return reply(self.s, {"deleted": True})

    async def key_digest(self, request: Request) -> Response:
        value = self.issued_keys.get(request.query_params.get("id", ""))
        return JSONResponse({"sha256": hashlib.sha256(value.encode()).hexdigest() if value else None})


def routes(state: PlatformState) -> list[BaseRoute]:
    a = AccountRoutes(state)
    sec = "/workspaces/{workspace_id}/secrets"
    return [
        Route(f"{ADMIN_PREFIX}/platform/secret-digest", a.digest, methods=["GET"]),
        Route(f"{ADMIN_PREFIX}/platform/key-digest", a.key_digest, methods=["GET"]),
        Route("/workspaces", a.create_workspace, methods=["POST"]),
        Route("/workspaces/{workspace_id}/members", a.members, methods=["GET"]),
        Route("/workspaces/{workspace_id}/invite", a.invite, methods=["POST"]),
        Route(sec, a.list_secrets, methods=["GET"]),
        Route(sec, a.put_secret, methods=["PUT"]),
        Route(sec, a.post_secret, methods=["POST"]),
        Route(sec + "/{key}", a.patch_secret, methods=["PATCH"]),
        Route(sec + "/{key}", a.delete_secret, methods=["DELETE"]),
        Route("/billing/balance", a.balance, methods=["GET"]),
        Route("/billing/credits", a.balance, methods=["GET"]),
        Route("/billing/history", a.history, methods=["GET"]),
        Route("/billing/checkout", a.checkout, methods=["POST"]),
        Route("/billing/add-credits", a.checkout, methods=["POST"]),
        Route("/api-keys", a.list_keys, methods=["GET"]),
        Route("/api-keys", a.create_key, methods=["POST"]),
        Route("/api-keys/{key_id}", a.delete_key, methods=["DELETE"]),
    ]
