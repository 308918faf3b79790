"""What the admin tools answer, and how what the platform shows only once reaches the person and no one else.

A value that is itself a secret (a webhook URL, which embeds its secret, or a new API key) goes only into a new file
the call names (`secret_file`), created with mode 0600 (refused if it exists): never into a tool result, the run
store or a log, and never through the client, not even by URL elicitation (the MCP specification's URL-mode
elicitation rules forbid credentials in the URL of a request). Where it will go is checked before the platform is
asked to make it (`check_once`), so nothing is made that no one could ever see. A URL that is not a secret (the
billing checkout page) is put to the person by URL elicitation where the client declared the `url` mode (`show_url`:
up to protocol 2025-11-25 a live request; from 2026-07-28 an `input_required` answer whose retried call finishes
the tool, its state naming only what was shown).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult
from pydantic import BaseModel, Field

from ..core import budget
from ..core.errors import InputError, sentences
from .caller import Caller, carried_state, state_payload

__all__ = ["AdminResult", "check_once", "hand_over", "show_url", "shown_before"]

SHOWN_KEY = "shown"  # the one input request an admin tool has outstanding


class AdminResult(BaseModel):
    """An administration call's answer: records of one kind, one record, or what was done."""

    profile: str
    kind: str = Field(description="schedules, services, workspaces, secrets, billing or api_keys.")
    items: list[dict[str, Any]] | None = Field(default=None, description="The records listed.")
    total: int | None = Field(default=None, description="How many there are in all.")
    record: dict[str, Any] | None = Field(default=None, description="The one record read, made or changed.")
    done: bool | None = Field(default=None, description="Whether the action was carried out (false: declined).")
    note: str | None = None


def _url_channel(ctx: Context[Any, Any]) -> str | None:
    """How a URL can reach the person now: "live", "input_required", or None."""
    channel = Caller(ctx).channel()
    caps = ctx.client_capabilities
    elicitation = caps.elicitation if caps is not None else None
    if channel == "none" or elicitation is None or getattr(elicitation, "url", None) is None:
        return None
    return channel


def shown_before(ctx: Context[Any, Any], what: str) -> bool:
    """Whether this is the 2026 retry after `show_url` showed `what` (its state names only that, never the URL);
    False on a first call."""
    refusal = "This continuation is not one this tool handed out; call it again without it."
    state = carried_state(ctx, refusal=refusal)
    if state is None:
        return False
    if state.get(SHOWN_KEY) != what:
        raise InputError(refusal)
    return True


def _ask(message: str, url: str, what: str) -> InputRequiredResult:
    params = ElicitRequestURLParams(message=message, url=url, elicitation_id=str(uuid.uuid4()))
    payload = state_payload(**{SHOWN_KEY: what})
    return InputRequiredResult(input_requests={SHOWN_KEY: ElicitRequest(params=params)}, request_state=payload)


def check_once(*, what: str, file: str | None, why: str = "") -> Path:
    """Where the secret `what` will go: the file the call names (checked: absolute, its folder exists, it does
    not). Refused without one, before anything is made; `why` adds the reason particular to `what`."""
    if file is None:
        raise InputError(
            sentences(
                f"Nothing was made: the {what} is a secret, so runbridge writes it only to a new file the person "
                f"names (secret_file, mode 0600), never to the model or through the client{why}",
                "Ask the person for a new file path on the runbridge machine and call again with it as secret_file",
            )
        )
    path = Path(file).expanduser()
    if not path.is_absolute():
        raise InputError(f"secret_file must be an absolute path on the runbridge machine (for the {what}).")
    if not path.parent.is_dir():
        raise InputError(f"The folder of secret_file ({path.parent}) does not exist; nothing was made.")
    if path.exists() or path.is_symlink():
        raise InputError(f"secret_file {path} already exists; name a new file. Nothing was made.")
    return path


def hand_over(*, what: str, value: str, path: Path) -> str:
    """Write `value` to the file `check_once` accepted, for the person; the note for the result (never the value)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError as exc:
        return (
            f"The {what} was made, but {path} could not be created ({exc.__class__.__name__}): it cannot be "
            "shown again. Delete it on the platform and make a new one."
        )
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(value + "\n")
    return f"The {what} is in {path} (mode 0600), for the person; it is not shown here."


async def show_url(ctx: Context[Any, Any], *, message: str, url: str, what: str) -> bool | InputRequiredResult:
    """Put a URL to the person by URL elicitation where the client can (True, or from 2026-07-28 the question to
    return); False where it cannot."""
    channel = _url_channel(ctx)
    if channel is None:
        return False
    if channel == "input_required":
        return _ask(message, url, what)
    try:
        await ctx.session.elicit_url(message, url, str(uuid.uuid4()), related_request_id=ctx.request_id)
    finally:
        budget.restart()
    return True
