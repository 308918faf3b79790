"""Who a request acts for. Over HTTP with `[auth]`, a user: the bearer token's subject at its issuer; every run
(and so its gates) and every task belongs to the user who started it, and another user is told it does not exist,
as for an unknown id. Without (stdio, or HTTP behind one shared token) there is no user: whoever reaches runbridge
sees everything.

A run no user owns (started in the backend's own interface or by another tool, or recorded before `[auth]` was
turned on) is "no such run" to a user as well: runbridge never reads it from the backend for them, so knowing an
id is not enough to read, follow, answer or cancel it. Only a token carrying the operator scope `[auth]` names
(`operator_scope`) reaches such runs; following one records it still owned by nobody, so it stays the operators'."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from ..state import GateRecord, RunRecord, RunStore

__all__ = ["UserToken", "current_user", "is_operator", "principal_of", "visible_gates", "visible_to"]


class UserToken(AccessToken):
    """A validated bearer token, with whether it carries the configured operator scope."""

    operator: bool = False


def principal_of(token: AccessToken | None) -> str | None:
    """The user a token stands for: its subject at its issuer; None without a token or a subject."""
    if token is None or not token.subject:
        return None
    issuer = (token.claims or {}).get("iss") or ""
    return f"{issuer}|{token.subject}"


def current_user() -> str | None:
    """The user the request in progress acts for (None: no user, see above)."""
    return principal_of(get_access_token())


def is_operator() -> bool:
    """Whether the request in progress carries the operator scope (see above)."""
    token = get_access_token()
    return isinstance(token, UserToken) and token.operator


def visible_to(user: str | None, record: RunRecord | None) -> bool:
    """Whether `user` (the request's user) may see a run (and its gates), runbridge's record of it being `record`
    (None: it has none): always without a user; a run a user owns, only to that user; a run nobody owns, only to
    an operator."""
    if user is None:
        return True
    if record is not None and record.user is not None:
        return record.user == user
    return is_operator()


async def visible_gates(store: RunStore, records: list[GateRecord]) -> list[GateRecord]:
    """The gates the request's user may see: those of the runs they started, and with the operator scope those of
    runs nobody owns (all of them without a user)."""
    user = current_user()
    if user is None:
        return records
    return [r for r in records if visible_to(user, await store.get_run(r.gate.profile, r.gate.run_id))]
