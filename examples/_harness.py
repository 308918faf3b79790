"""What every example shares: a sandbox backend on loopback, a runbridge.toml pointing at it, and runbridge started
over stdio by the official MCP Python client, the way an MCP host starts it. An example checks what it shows with
`check`; `run` prints what happened and exits non-zero when a check failed.

To see an example fail, make its world misbehave with RUNBRIDGE_EXAMPLE_MISBEHAVE: `decline` (the person declines
every question) or `unavailable` (the backend answers 503 to every request).

An example imports it as `from _harness import ...`: the two lines at the top of each example put examples/ on the
path in place of the example's own folder, which Python puts first: a family's example is named after its family,
and `families/platform.py` would stand in for the standard library's `platform` module."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.client import ClientExtension
from mcp.client.stdio import stdio_client
from mcp_types import ElicitRequestParams, ElicitResult

from runbridge.sandbox import SandboxServer

KEY_ENV = "RUNBRIDGE_EXAMPLE_KEY"
MISBEHAVE_ENV = "RUNBRIDGE_EXAMPLE_MISBEHAVE"
MISBEHAVIOURS = ("decline", "unavailable")
PROFILE = "sandbox"  # the profile's name in the generated runbridge.toml


class ExampleFailed(Exception):
    """What the example shows did not happen."""


def check(condition: object, what: str) -> None:
    """Fail the example, saying `what` was expected, unless `condition` holds."""
    if not condition:
        raise ExampleFailed(what)
    print(f"  ok: {what}")


@dataclass
class Person:
    """The human at the host: gives the scripted answers in order (action, content), keeping every question."""

    answers: list[tuple[str, dict[str, Any] | None]]
    questions: list[ElicitRequestParams] = field(default_factory=list[ElicitRequestParams])

    async def __call__(self, _context: Any, params: ElicitRequestParams) -> ElicitResult:
        self.questions.append(params)
        print(f"  the person is asked: {params.message.splitlines()[0]}")
        action, content = self.answers.pop(0) if self.answers else ("cancel", None)
        if _misbehaviour() == "decline":
            action, content = "decline", None
        return ElicitResult(action=action, content=content)  # type: ignore[arg-type]


@dataclass
class Session:
    client: Client
    sandbox: SandboxServer
    workdir: Path

    async def ok(self, tool: str, arguments: dict[str, Any] | None = None, **kw: Any) -> dict[str, Any]:
        """Call a tool; its structured result (a tool error fails the example)."""
        result = await self.client.call_tool(tool, arguments or {}, **kw)
        if result.is_error:
            raise ExampleFailed(f"{tool} failed: {result.content}")
        check(result.structured_content is not None, f"{tool} returned structured content")
        return result.structured_content or {}


@asynccontextmanager
async def connect(
    family: str = "openwop",
    *,
    profile: str = "",
    server: str = "",
    person: Person | None = None,
    mode: str = "legacy",
    speed: float = 0.0,
    message_handler: Callable[[Any], Awaitable[None]] | None = None,
    extensions: Sequence[ClientExtension] = (),
) -> AsyncIterator[Session]:
    """runbridge over stdio on a `family` sandbox. `profile` and `server` are extra TOML lines for the profile and
    the [server] table; the profile gets the sandbox's address and its key (in $RUNBRIDGE_EXAMPLE_KEY, and as a
    token file in the work folder, `token.json`, for families that sign in). `extensions` are the client's own
    (the 2026 protocol's, so with `mode="auto"`)."""
    with SandboxServer(family, speed=speed, keepalive_seconds=0.2) as sandbox, tempfile.TemporaryDirectory() as tmp:
        if _misbehaviour() == "unavailable":
            sandbox.faults.burst(503, count=1_000_000, retry_after=0)
        workdir = Path(tmp)
        token = workdir / "token.json"
        token.touch(mode=0o600)
        token.write_text(json.dumps({"access_token": sandbox.api_key}), encoding="utf-8")
        config = workdir / "runbridge.toml"
        config.write_text(
            f'[server]\nstate_path = "{workdir / "state.db"}"\nprogress_interval_seconds = 0\n{server}\n'
            f'[profiles.{PROFILE}]\nfamily = "{family}"\nbase_url = "{sandbox.base_url}"\n{profile}\n',
            encoding="utf-8",
        )
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "runbridge", "serve", "--config", str(config)],
            env={KEY_ENV: sandbox.api_key, "XDG_STATE_HOME": str(workdir / "state")},
            cwd=str(workdir),
        )
        with (workdir / "stderr.log").open("w+", encoding="utf-8") as errlog:
            kw: dict[str, Any] = {"mode": mode, "elicitation_callback": person}
            if message_handler is not None:
                kw["message_handler"] = message_handler
            if extensions:
                kw["extensions"] = list(extensions)
            async with Client(stdio_client(params, errlog=errlog), **kw) as client:
                yield Session(client, sandbox, workdir)


def _misbehaviour() -> str | None:
    """What RUNBRIDGE_EXAMPLE_MISBEHAVE asks to go wrong (None: nothing)."""
    wanted = os.environ.get(MISBEHAVE_ENV) or None
    if wanted is not None and wanted not in MISBEHAVIOURS:
        raise ValueError(f"{MISBEHAVE_ENV} is one of {', '.join(MISBEHAVIOURS)}, not {wanted!r}")
    return wanted


def key_profile() -> str:
    """The profile lines of a family whose key is in an environment variable."""
    return f'api_key_env = "{KEY_ENV}"\n'


def _failure(exc: BaseException) -> ExampleFailed | None:
    """The failed check in `exc`, also inside the exception groups of the client's task groups."""
    if isinstance(exc, ExampleFailed):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _failure(inner)
            if found is not None:
                return found
    return None


def run(example: Callable[[], Awaitable[None]], *, within: float = 60) -> None:
    """Run the example; exit 0 when every check held, 1 (saying which did not) otherwise."""
    name = Path(sys.argv[0]).name

    async def bounded() -> None:
        with anyio.fail_after(within):
            await example()

    try:
        anyio.run(bounded)
    except Exception as exc:
        failed = _failure(exc)
        if failed is not None:
            print(f"FAILED {name}: expected {failed}", file=sys.stderr)
            raise SystemExit(1) from None
        traceback.print_exc()
        print(f"FAILED {name}: it stopped on an error", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"passed: {name}")
