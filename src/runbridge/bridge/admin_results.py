"""What the admin tools answer, and how what the platform shows only once reaches the person and no one else.

A webhook URL with its secret, or a new API key, goes to the person, never into a tool result, the run store or a
log: through URL elicitation for a URL, where the client declared the `url` mode (up to protocol 2025-11-25 a live
request; from 2026-07-28 an `input_required` answer whose retried call finishes the tool, its state naming only
what was shown), else into a file the call names, created with mode 0600 (refused if it exists). Whether it can be
handed over is checked before the platform is asked to make it (`check_once`), so nothing is made that no one
could ever see.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context
from mcp_types import ElicitRequest, ElicitRequestURLParams, InputRequiredResult
from pydantic import BaseModel, Field

from ..core import budget
from ..core.errors import InputError, sentences
from .caller import Caller

__all__ = ["AdminResult", "check_once", "hand_over", "once_note", "show_url", "shown_before"]

SHOWN_KEY = "shown"  # the one input request an admin tool has outstanding
_STATE_VERSION = 1


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


def shown_before(ctx: Context[Any, Any], what: str) -> dict[str, Any] | None:
    """On a 2026 retry after a URL was shown (`hand_over`, `show_url`): the state naming what was shown (never the
    URL); None on a first call."""
    raw = ctx.request_state
    if not raw:
        return None
    try:
        state = json.loads(raw)
    except json.JSONDecodeError:
        state = None
    if not isinstance(state, dict) or state.get("v") != _STATE_VERSION or state.get(SHOWN_KEY) != what:
        raise InputError("This continuation is not one this tool handed out; call it again without it.")
    return state


def _ask(message: str, url: str, what: str, state: dict[str, Any]) -> InputRequiredResult:
    params = ElicitRequestURLParams(message=message, url=url, elicitation_id=str(uuid.uuid4()))
    payload = json.dumps({"v": _STATE_VERSION, SHOWN_KEY: what, **state}, separators=(",", ":"))
    return InputRequiredResult(input_requests={SHOWN_KEY: ElicitRequest(params=params)}, request_state=payload)


def check_once(ctx: Context[Any, Any], *, what: str, is_url: bool, file: str | None) -> Path | None:
    """Where `what` will go: the file (checked: absolute, its folder exists, it does not), or None for URL
    elicitation. Refused when neither is possible, before anything is made."""
    if file is not None:
        path = Path(file).expanduser()
        if not path.is_absolute():
            raise InputError(f"secret_file must be an absolute path on the runbridge machine (for the {what}).")
        if not path.parent.is_dir():
            raise InputError(f"The folder of secret_file ({path.parent}) does not exist; nothing was made.")
        if path.exists() or path.is_symlink():
            raise InputError(f"secret_file {path} already exists; name a new file. Nothing was made.")
        return path
    if is_url and _url_channel(ctx) is not None:
        return None
    raise InputError(
        sentences(
            f"The {what} is shown only once and never to the model, and this client cannot show a URL to the "
            "person directly",
            "Ask the person for a new file path on the runbridge machine and pass it as secret_file: the "
            f"{what} is written there with mode 0600. Nothing was made",
        )
    )


async def hand_over(
    ctx: Context[Any, Any], *, what: str, value: str, path: Path | None, state: dict[str, Any] | None = None
) -> str | InputRequiredResult:
    """Give `value` to the person as `check_once` decided: a note for the result (never the value), or, from
    2026-07-28, the question to return (its retry carries `state`, see `shown_before`)."""
    if path is not None:
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
    message = f"Your new {what}. It is shown only this once: copy it where it is needed (you need not open it)."
    if _url_channel(ctx) == "input_required":
        return _ask(message, value, what, state or {})
    try:
        await ctx.session.elicit_url(message, value, str(uuid.uuid4()), related_request_id=ctx.request_id)
    finally:
        budget.restart()
    return once_note(what)


def once_note(what: str) -> str:
    return f"The {what} was shown to the person once; it is not shown here and runbridge keeps no copy."


async def show_url(ctx: Context[Any, Any], *, message: str, url: str, what: str) -> bool | InputRequiredResult:
    """Put a URL to the person by URL elicitation where the client can (True, or from 2026-07-28 the question to
    return); False where it cannot."""
    channel = _url_channel(ctx)
    if channel is None:
        return False
    if channel == "input_required":
        return _ask(message, url, what, {})
    try:
        await ctx.session.elicit_url(message, url, str(uuid.uuid4()), related_request_id=ctx.request_id)
    finally:
        budget.restart()
    return True
