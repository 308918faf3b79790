"""The threads toolset: conversations on backends that keep them (orchagent). A thread comes from a workflow spec;
each message on it starts a run, followed like runs_start (progress, gates, hybrid wait).

Secrets are passed by reference only: `secrets_from_env` maps key paths to environment variable names (and
`secrets_from_file` to files) of the runbridge process; values are read by the adapter and never echoed. Every
reference passes the secret policy first (core/secret_policy.py): runbridge's own credentials are refused, and a
profile may narrow what is allowed; a refused reference sends nothing.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from mcp.server.mcpserver import Context
from mcp_types import InputRequiredResult
from pydantic import BaseModel, Field, ValidationError

from ..bridge.app import App
from ..bridge.results import RunReport
from ..bridge.users import current_user
from ..core.config import Profile as ProfileConfig
from ..core.errors import InputError
from ..core.protocols import ThreadsAPI, ThreadSecretsAPI
from ..core.threads import HistoryItem, SecretRefs
from ..state import offset_cursor
from ._follow import FollowResult, continue_or_none, follow, wait_for
from ._spec import ToolSpec, app_of

__all__ = ["SPECS"]

_MAX_HISTORY_FETCH = 1000

Profile = Annotated[str | None, Field(description="Profile name; omit for the default profile.")]
ThreadId = Annotated[str, Field(min_length=1, max_length=512, description="The thread id (from threads_create).")]
Wait = Annotated[
    float | None,
    Field(
        description="Seconds to follow the run before returning a handle (default 20; "
        "at most 40 unless the server's max_wait_seconds says otherwise, so the answer arrives before "
        "the 60 s most MCP clients wait for a call)."
    ),
]
SecretsFromEnv = Annotated[
    dict[str, str] | None,
    Field(
        description="Secrets by reference: key path -> environment variable name of the runbridge process, e.g. "
        '{"providers.openai.api_key": "OPENAI_API_KEY"}. Never put secret values here. Variables holding '
        "runbridge's own credentials are refused, and the profile may allow only some names (allowed_secret_env)."
    ),
]
SecretsFromFile = Annotated[
    dict[str, str] | None,
    Field(
        description="Secrets by reference: key path -> a regular file (mode 0600) holding the value. runbridge's "
        "own token files and state directory, MCP hosts' configuration files, and any file holding one of "
        "runbridge's credentials are refused; the profile may allow only some directories (allowed_secret_dirs)."
    ),
]


def _refs(from_env: dict[str, str] | None, from_file: dict[str, str] | None) -> SecretRefs:
    try:
        return SecretRefs(from_env=from_env or {}, from_file=from_file or {})
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]) for e in exc.errors(include_url=False, include_input=False))
        raise InputError(f"Bad secret references: {problems}.") from None


def _read_spec(app: App, profile: ProfileConfig, path: str) -> dict[str, Any]:
    """A workflow spec from a .json file the policy allows (read from the descriptor it checked); errors say what
    to fix."""
    real, data = app.secrets.read_spec_file(profile, path)
    file = str(real)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{file!r} is not UTF-8 text.") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{file!r} is not valid JSON (line {exc.lineno}, column {exc.colno}).") from None
    if not isinstance(doc, dict):
        raise InputError(f"{file!r} must hold one JSON object (the workflow spec).")
    return doc  # type: ignore[return-value]  (a JSON object)


class ThreadCreated(BaseModel):
    profile: str
    thread_id: str
    source: str = Field(description="Where the spec came from: 'spec' or the file path.")
    next: str


async def threads_create(
    ctx: Context[Any, Any],
    spec: Annotated[dict[str, Any] | None, Field(description="The workflow spec (a JSON object).")] = None,
    path: Annotated[
        str | None,
        Field(
            max_length=4096,
            description="Or: a workflow .json file on the runbridge server's machine, in a directory the operator "
            "allows (beside runbridge.toml, allowed_spec_dirs, $RUNBRIDGE_SPEC_DIRS); files holding runbridge's "
            "own credentials and MCP hosts' configuration files are refused.",
        ),
    ] = None,
    profile: Profile = None,
) -> ThreadCreated:
    """Create a thread from a workflow spec (an object) or a workflow JSON file (a path readable by the runbridge
    server). Returns the thread id; then call threads_send (or threads_ask) to talk to it."""
    if (spec is None) == (path is None):
        raise InputError("Pass exactly one of `spec` (a JSON object) or `path` (a workflow .json file).")
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "threads", ThreadsAPI)
    document = spec if spec is not None else _read_spec(app, chosen, path or "")
    thread = await backend.create_thread(document)
    return ThreadCreated(
        profile=chosen.name,
        thread_id=thread.thread_id,
        source="spec" if spec is not None else str(path),
        next=f"Call threads_send or threads_ask with thread_id={thread.thread_id!r} and the user's message.",
    )


async def _send(
    app: App,
    ctx: Context[Any, Any],
    profile: str | None,
    thread_id: str,
    user_prompt: str,
    inputs: dict[str, Any] | None,
    refs: SecretRefs,
    wait: float,
) -> FollowResult:
    chosen, backend = app.adapters.require(profile, "threads", ThreadsAPI)
    refs = app.secrets.check(chosen, refs)  # before anything is read or sent
    run = await backend.send_message(thread_id, user_prompt, inputs=inputs, secrets=refs)
    await app.registry.record_run(
        chosen.name, run.model_copy(update={"target_id": thread_id}), locator=run.locator, user=current_user()
    )
    return await follow(app, ctx, chosen.name, run.run_id, wait=wait, target_id=thread_id)


async def threads_send(
    thread_id: ThreadId,
    user_prompt: Annotated[str, Field(min_length=1, max_length=100_000, description="The user's message.")],
    ctx: Context[Any, Any],
    inputs: Annotated[dict[str, Any] | None, Field(description="Inputs for the workflow (e.g. user_id).")] = None,
    secrets_from_env: SecretsFromEnv = None,
    secrets_from_file: SecretsFromFile = None,
    wait_seconds: Wait = None,
    profile: Profile = None,
) -> FollowResult:
    """Send a message on a thread: it starts a run, followed live like runs_start.

    Progress arrives as notifications. A sign-in or tool-approval gate is put to the user directly where the
    client supports it; otherwise the result's `waiting_for` holds it: relay it to the user and call
    gates_respond with their answer. If the run is still going after `wait_seconds` you get a handle for
    runs_watch. Secrets are references to environment variables (`secrets_from_env`) or files
    (`secrets_from_file`), never values; references to runbridge's own credentials, or outside what the profile
    allows, are refused with an error naming the reference, and nothing is sent.
    """
    app = app_of(ctx)
    resumed = await continue_or_none(app, ctx)
    if resumed is not None:
        return resumed
    refs = _refs(secrets_from_env, secrets_from_file)
    wait = wait_for(app, wait_seconds)
    return await _send(app, ctx, profile, thread_id, user_prompt, inputs, refs, wait)


class HistoryPage(BaseModel):
    profile: str
    thread_id: str
    items: list[HistoryItem] = Field(description="Messages, oldest first; the first page holds the latest ones.")
    next_cursor: str | None = Field(default=None, description="Pass as cursor for the page of older messages.")


async def threads_history(
    thread_id: ThreadId,
    ctx: Context[Any, Any],
    cursor: Annotated[str | None, Field(description="next_cursor from a previous page (older messages).")] = None,
    limit: Annotated[int, Field(ge=1, le=200, description="Messages per page.")] = 20,
    profile: Profile = None,
) -> HistoryPage:
    """A thread's messages: the latest `limit` first (oldest first within the page); next_cursor pages back."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "threads", ThreadsAPI)
    offset = offset_cursor(cursor)
    if offset + limit > _MAX_HISTORY_FETCH:
        raise InputError(f"The server returns at most the latest {_MAX_HISTORY_FETCH} messages of a thread.")
    # The API has only `limit` (the latest N): ask for offset + limit and keep the oldest `limit` of them.
    fetched = await backend.thread_history(thread_id, limit=offset + limit)
    end = max(len(fetched) - offset, 0)
    items = fetched[max(end - limit, 0) : end]
    more = len(fetched) >= offset + limit and offset + limit < _MAX_HISTORY_FETCH
    return HistoryPage(
        profile=chosen.name, thread_id=thread_id, items=items, next_cursor=str(offset + limit) if more else None
    )


class SecretsSet(BaseModel):
    profile: str
    thread_id: str
    keys: list[str] = Field(description="The key paths stored on the thread (values are never shown).")
    note: str


async def threads_set_secrets(
    thread_id: ThreadId,
    ctx: Context[Any, Any],
    secrets_from_env: SecretsFromEnv = None,
    secrets_from_file: SecretsFromFile = None,
    profile: Profile = None,
) -> SecretsSet:
    """Store secrets on a thread (provider keys, tool keys) from environment variables or files of the runbridge
    process, named by key path. Only the key names come back. Run-time secrets (threads_send) override these.
    References to runbridge's own credentials, or outside what the profile allows, are refused (nothing is
    stored); the error names the refused reference."""
    app = app_of(ctx)
    chosen, backend = app.adapters.require(profile, "thread_secrets", ThreadSecretsAPI)
    refs = app.secrets.check(chosen, _refs(secrets_from_env, secrets_from_file))
    keys = await backend.set_thread_secrets(thread_id, refs)
    return SecretsSet(
        profile=chosen.name,
        thread_id=thread_id,
        keys=keys,
        note="Stored on the thread. Precedence on the server: run-time > thread > workflow > environment.",
    )


class AskResult(BaseModel):
    """A message's run, followed to its end: the assistant's reply, or where it stopped."""

    profile: str
    thread_id: str
    run_id: str
    done: bool
    reply: str | None = Field(default=None, description="The assistant's final message, when the run completed.")
    report: RunReport = Field(description="The run as followed: status, gates, usage, what to do next.")


async def _reply(app: App, thread_id: str, result: FollowResult) -> AskResult | InputRequiredResult:
    if isinstance(result, InputRequiredResult):
        return result
    reply: str | None = None
    if result.status.value == "completed":
        if isinstance(result.outputs, str):
            reply = result.outputs
        else:
            _, backend = app.adapters.require(result.profile, "threads", ThreadsAPI)
            history = await backend.thread_history(thread_id, limit=20)
            answers = [h for h in history if h.role == "assistant"]
            mine = [h for h in answers if h.run_id == result.run_id] or answers[-1:]
            reply = mine[-1].content if mine else None
    return AskResult(
        profile=result.profile, thread_id=thread_id, run_id=result.run_id, done=result.done, reply=reply, report=result
    )


async def threads_ask(
    thread_id: ThreadId,
    user_prompt: Annotated[str, Field(min_length=1, max_length=100_000, description="The user's message.")],
    ctx: Context[Any, Any],
    inputs: Annotated[dict[str, Any] | None, Field(description="Inputs for the workflow (e.g. user_id).")] = None,
    secrets_from_env: SecretsFromEnv = None,
    secrets_from_file: SecretsFromFile = None,
    wait_seconds: Annotated[
        float | None,
        Field(
            description="Seconds to follow the run (default: the server's maximum, 40 s unless max_wait_seconds "
            "says otherwise, so the reply arrives before the 60 s most MCP clients wait for a call)."
        ),
    ] = None,
    profile: Profile = None,
) -> AskResult | InputRequiredResult:
    """Chat in one call: send the message, follow the run through any sign-in or approval gates to its end, and
    return the assistant's final message as `reply`.

    Gates are put to the user directly where the client supports it; otherwise `report.waiting_for` holds the
    question: relay it and answer with gates_respond (then read the reply with threads_history).
    """
    app = app_of(ctx)
    resumed = await continue_or_none(app, ctx)
    if resumed is not None:
        return await _reply(app, thread_id, resumed)
    refs = _refs(secrets_from_env, secrets_from_file)
    wait = wait_for(app, app.settings.max_wait_seconds if wait_seconds is None else wait_seconds)
    result = await _send(app, ctx, profile, thread_id, user_prompt, inputs, refs, wait)
    return await _reply(app, thread_id, result)


SPECS = [
    ToolSpec(threads_create, "threads", "Create a thread", read_only=False, capability="threads"),
    ToolSpec(threads_send, "threads", "Send a message on a thread", read_only=False, capability="threads", task=True),
    ToolSpec(threads_history, "threads", "Read a thread's history", read_only=True, capability="threads"),
    ToolSpec(
        threads_set_secrets,
        "threads",
        "Set a thread's secrets",
        read_only=False,
        idempotent=True,
        capability="thread_secrets",
    ),
    ToolSpec(
        threads_ask,
        "threads",
        "Ask on a thread and wait for the reply",
        read_only=False,
        capability="threads",
        task=True,
    ),
]
