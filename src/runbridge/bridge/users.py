"""Who a request acts for. Over HTTP with `[auth]`, a user: the bearer token's subject at its issuer; every run
(and so its gates) and every task belongs to the user who started it, and another user is told it does not exist,
as for an unknown id. Without (stdio, or HTTP behind one shared token) there is no user: whoever reaches runbridge
sees everything."""

from __future__ import annotations

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken

from ..state import GateRecord, RunRecord, RunStore

__all__ = ["current_user", "principal_of", "visible_gates", "visible_to"]


def principal_of(token: AccessToken | None) -> str | None:
    """The user a token stands for: its subject at its issuer; None without a token or a subject."""
    if token is None or not token.subject:
        return None
    issuer = (token.claims or {}).get("iss") or ""
    return f"{issuer}|{token.subject}"


def current_user() -> str | None:
    """The user the request in progress acts for (None: no user, see above)."""
    return principal_of(get_access_token())


def visible_to(user: str | None, record: RunRecord | None) -> bool:
    """Whether `user` may see a run (and its gates): always without a user; else only a run that user started."""
    return user is None or (record is not None and record.user == user)


async def visible_gates(store: RunStore, records: list[GateRecord]) -> list[GateRecord]:
    """The gates the request's user may see: those of the runs they started (all of them without a user)."""
    user = current_user()
    if user is None:
        return records
    return [r for r in records if visible_to(user, await store.get_run(r.gate.profile, r.gate.run_id))]
