"""`build_server(settings)`: the MCP server, its lifespan and its registrations. No logic of its own."""

from __future__ import annotations

import functools
import inspect
import os
import secrets
from collections.abc import AsyncGenerator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer, RequestStateSecurity
from mcp.server.mcpserver.tools import Tool

from .. import __version__
from ..backends import adapter_class
from ..bridge.app import App
from ..bridge.arguments import InvalidArguments
from ..bridge.caller import explain_refused_state
from ..bridge.output import output_schema
from ..bridge.tasks import book_of
from ..core.auth_config import AuthConfig
from ..core.config import Settings
from ..core.errors import ConfigError, sentence
from ..core.logs import register_secret
from ..core.protocols import capabilities_of
from ..core.secret_policy import STATE_KEY_ENV, STATE_KEYS_ENV, ring_keys
from ..tools import SURFACE, ToolSpec
from .auth import JwtVerifier, ReadOnlyScopes, auth_settings
from .prompts import register_prompts
from .redis_bus import RedisSubscriptionBus
from .resources import register_resources
from .subscriptions import register_subscriptions, subscription_bus
from .tasks_legacy import LegacyTasks
from .tasks_modern import RunTasks
from .usage_resources import register_usage_resources

__all__ = ["INSTRUCTIONS", "Lifecycle", "build_server", "instructions_for", "visible_tools"]

INSTRUCTIONS = """\
runbridge runs work on agent-orchestration platforms for the user: find targets (targets_list), start runs \
(runs_start), follow them (runs_watch), read them (runs_get, runs_events, runs_list), cancel or fork them.

Runs can be long. A run tool follows the run for a bounded time while sending progress, then returns either the \
result or a handle; call runs_watch with the run_id to keep following. Stopping a call never stops the run; only \
runs_cancel does.

Some runs stop at a human gate (an approval, a question, a sign-in). When the client can, the user is asked \
directly. Otherwise the result's `waiting_for` holds the question and its `how_to_answer` says how to put it to the \
user: show it to them and pass THEIR decision to gates_respond. Never answer a gate on the user's behalf. gates_list \
shows every gate still waiting; runs_get shows the gate a run waits on.

Every tool takes an optional `profile` (profiles_list shows them); omit it for the default profile, or, for \
runs_list and gates_list, for every profile."""

THREADS_INSTRUCTIONS = """\
Thread-based backends keep a conversation: threads_create makes a thread, threads_send posts a message (a run, \
followed like runs_start), threads_ask posts one and returns the assistant's reply, threads_history reads it. \
Provider keys are passed by reference only (secrets_from_env names environment variables, secrets_from_file \
files); never put a key in an argument. runbridge refuses references to its own credentials and, where the profile \
says so, names or directories it does not allow: the error names the refused reference; ask the user which \
variable or file to use instead, never guess another."""


USAGE_INSTRUCTIONS = """\
usage_report sums the tokens and cost backends reported for the runs runbridge started, followed or read, over \
the last days, by target, profile, day or status; with `view`, a profile whose platform keeps usage reports its \
own figures (summary, timeseries, breakdown, tenants, logs, metrics)."""


def instructions_for(tools: list[ToolSpec]) -> str:
    """The server instructions, naming only toolsets this configuration shows."""
    toolsets = {spec.toolset for spec in tools}
    parts = [INSTRUCTIONS]
    if "threads" in toolsets:
        parts.append(THREADS_INSTRUCTIONS)
    if "usage" in toolsets:
        parts.append(USAGE_INSTRUCTIONS)
    return "\n\n".join(parts)


_DRAIN_SECONDS = 0.5  # for the calls being cancelled to save their cursors
_CLOSE_SECONDS = 1.0  # for every backend connection to close


class Lifecycle:
    """The running server's state, for whoever stops it (a signal): `stop_calls` is the graceful stop's first step,
    and `closed` is set once the lifespan closed every backend and the run registry."""

    def __init__(self) -> None:
        self.app: App | None = None
        self.closed: anyio.Event | None = None  # set by the lifespan, once it has closed everything

    async def stop_calls(self) -> None:
        """End the tool calls in progress (each saves its cursor and answers that runbridge is stopping)."""
        if self.app is not None:
            await self.app.calls.stop(_DRAIN_SECONDS)

    async def wait_closed(self, within: float) -> bool:
        """Wait up to `within` seconds for the lifespan to have closed everything; whether it did."""
        if self.closed is None:
            return True  # never opened: nothing to close
        with anyio.move_on_after(within, shield=True):
            await self.closed.wait()
        return self.closed.is_set()


REQUEST_STATE_AUDIENCE = "runbridge"  # fixed: a continuation sealed by one replica opens on every other


def _request_state_security(settings: Settings) -> RequestStateSecurity:
    """Seal 2026-era gate continuations with a key that outlives a restart (kept beside the run registry, 0600),
    so a human who answers after runbridge restarted is not turned away.

    Replicas sharing a run store share a key ring instead: `RUNBRIDGE_STATE_KEYS` (keys separated by commas or
    spaces; the first seals, every one unseals, so a key is rotated in without refusing what the old one sealed),
    or `RUNBRIDGE_STATE_KEY` (a ring of one). A shared store (`state_url`) with neither is refused: a key of this
    machine's own would turn away every answer that reaches another replica."""
    ttl = settings.gate_ttl_seconds
    ring = _key_ring(ttl)
    if ring is not None:
        return ring
    if settings.shared_state:
        raise ConfigError(
            "[server] state_url shares the run store between runbridge servers, but the key sealing gate "
            f"continuations would be this one's alone: set ${STATE_KEYS_ENV} to the same keys on every server "
            "(each at least 32 random bytes, e.g. from `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)."
        )
    if settings.state_path == ":memory:":
        return RequestStateSecurity.ephemeral(ttl=ttl, audience=REQUEST_STATE_AUDIENCE)
    key_file = Path(settings.state_path).expanduser().with_name("request-state.key")
    _refuse_shared_key(key_file)
    try:
        key = key_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        key = secrets.token_urlsafe(48)
        try:
            key_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(key)
        except OSError as exc:
            raise ConfigError(
                f"Cannot create runbridge's state in {key_file.parent} ({exc.strerror or exc.__class__.__name__}); "
                "set [server] state_path in runbridge.toml to a file in a writable folder."
            ) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {key_file} ({exc.__class__.__name__}); check its permissions.") from None
    register_secret(key)
    return _sealing(
        key,
        ttl,
        f"{key_file} holds no usable key (too short): delete it and runbridge makes a new one (gate questions asked "
        "with the old key can then be answered with gates_respond only)",
    )


def _key_ring(ttl: float) -> RequestStateSecurity | None:
    """The key ring from the environment (`RUNBRIDGE_STATE_KEYS`, else `RUNBRIDGE_STATE_KEY`), or None."""
    many, one = os.environ.get(STATE_KEYS_ENV, ""), os.environ.get(STATE_KEY_ENV, "")
    if many.strip() and one.strip():
        raise ConfigError(
            f"Both ${STATE_KEYS_ENV} and ${STATE_KEY_ENV} are set: keep ${STATE_KEYS_ENV} (its first key seals, "
            f"every key unseals) and unset ${STATE_KEY_ENV}."
        )
    keys = ring_keys(many) if many.strip() else one.split()
    if not keys:
        return None
    for key in keys:
        register_secret(key)
    name = STATE_KEYS_ENV if many.strip() else STATE_KEY_ENV
    try:
        return RequestStateSecurity(keys=keys, ttl=ttl, audience=REQUEST_STATE_AUDIENCE)
    except ValueError:
        each = " in each of its keys" if len(keys) > 1 else ""
        raise ConfigError(sentence(f"${name} must hold at least 32 random bytes{each}")) from None


def _refuse_shared_key(key_file: Path) -> None:
    """Whoever can read the key can forge the gate continuations runbridge seals with it: a key file other users can
    open is refused, saying how to fix it (runbridge creates it 0600)."""
    try:
        mode = key_file.stat().st_mode & 0o777
    except OSError:
        return  # absent (it is created below) or unreadable (said below)
    if mode & 0o077:
        raise ConfigError(
            f"{key_file} can be opened by other users (mode {mode:o}), and it seals the gate answers runbridge hands "
            f"out: run `chmod 600 {key_file}` and start runbridge again."
        )


def _sealing(key: str, ttl: float, problem: str) -> RequestStateSecurity:
    """The SDK's sealing with `key`; a key it refuses is a configuration error saying where the key came from."""
    try:
        return RequestStateSecurity(keys=[key], ttl=ttl, audience=REQUEST_STATE_AUDIENCE)
    except ValueError:
        raise ConfigError(sentence(problem)) from None


def visible_tools(settings: Settings) -> list[ToolSpec]:
    """The tools this configuration shows: enabled toolsets, read-only mode, and what some profile can do."""
    capabilities: set[str] = set()
    for profile in settings.profiles.values():
        capabilities |= capabilities_of(adapter_class(profile))
    return [
        spec
        for spec in SURFACE
        if spec.toolset in settings.toolsets
        and (spec.read_only or not settings.read_only)
        and not (settings.read_only and spec.toolset == "admin")  # administration is hidden whole when read-only
        and (spec.capability is None or spec.capability in capabilities)
    ]


@functools.cache
def _sdk_tool(spec: ToolSpec) -> Tool:
    """The SDK's tool for `spec`, publishing the output schema of what runbridge sends (`bridge/output.py`). Made
    once per process: it depends on the spec alone (calls reach the settings through their context), and making it
    (argument model, input and output schemas) is nine tenths of the cost of building a server."""
    description = inspect.cleandoc(spec.fn.__doc__ or "")  # without the docstring's indentation
    tool = Tool.from_function(
        spec.bound(), name=spec.name, title=spec.title, description=description, annotations=spec.annotations
    )
    metadata = tool.fn_metadata
    if metadata.output_schema is not None:  # read live by the SDK: what it lists, and checks results against
        metadata.output_schema = output_schema(metadata.output_model)
    return tool


def _argument_check(tools: dict[str, Tool], name: str) -> Callable[[dict[str, Any]], Any] | None:
    tool = tools.get(name)
    return None if tool is None else tool.fn_metadata.validate_arguments


def build_server(
    settings: Settings,
    *,
    protect_env: Iterable[str] = (),
    lifecycle: Lifecycle | None = None,
    auth: AuthConfig | None = None,
) -> MCPServer[App]:
    """The runbridge MCP server for `settings`. Backends connect lazily, on first use. `protect_env` names
    environment variables holding credentials beyond the profiles' (the HTTP bearer token's), which secret
    references from tool calls may never name; `lifecycle`, if given, follows the server's lifespan; `auth`, if
    given, makes its HTTP app an OAuth resource server (`server.auth`)."""
    protected = tuple(protect_env)
    running = lifecycle or Lifecycle()

    @asynccontextmanager
    async def lifespan(_server: MCPServer[App]) -> AsyncGenerator[App]:
        closed = running.closed = anyio.Event()
        app: App | None = None
        try:
            async with anyio.create_task_group() as tasks:
                app = running.app = App.open(settings, tasks, protect_env=protected)
                if isinstance(bus, RedisSubscriptionBus):
                    bus.follow_tasks(book_of(app))  # task status changes across replicas too
                    tasks.start_soon(bus.relay)  # events across replicas while this serves
                try:
                    yield app
                finally:
                    await app.calls.drain(_DRAIN_SECONDS)
                    tasks.cancel_scope.cancel()
        finally:
            # Closed once every background task has ended: one finishing in a shielded section (a task recording
            # its end, a claim given up) still reaches the run store.
            if app is not None:
                with anyio.move_on_after(_CLOSE_SECONDS, shield=True):
                    await app.aclose()
            closed.set()

    tools = visible_tools(settings)
    security = _request_state_security(settings)
    App.check_state(settings)
    bus = subscription_bus(settings)
    registered = {spec.name: _sdk_tool(spec) for spec in tools}
    task_tools = frozenset(spec.name for spec in tools if spec.task)  # run as MCP tasks when a client asks
    mcp: MCPServer[App] = MCPServer(
        "runbridge",
        title="runbridge",
        version=__version__,
        instructions=instructions_for(tools),
        lifespan=lifespan,
        request_state_security=security,
        subscriptions=bus,
        tools=list(registered.values()),
        extensions=[RunTasks(task_tools)],
        token_verifier=JwtVerifier(auth) if auth else None,
        auth=auth_settings(auth) if auth else None,
    )
    mcp.middleware.insert(0, explain_refused_state)  # outermost: it rewords the SDK's requestState refusal
    mcp.middleware.insert(1, InvalidArguments(lambda name: _argument_check(registered, name)))
    mcp.middleware.insert(2, LegacyTasks(task_tools))  # 2025 task-augmented calls (the SDK serves none)
    if auth and auth.write_scope:  # outermost of all: a read-only token changes nothing, whichever way it calls
        mcp.middleware.insert(0, ReadOnlyScopes(auth.write_scope, frozenset(s.name for s in tools if s.read_only)))
    register_resources(mcp, settings)
    register_usage_resources(mcp, settings)
    register_subscriptions(mcp, bus)
    register_prompts(mcp, {spec.toolset for spec in tools})
    return mcp
