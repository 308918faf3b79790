"""`runbridge demo`: a gated run, end to end, in the terminal.

It starts the sandbox in-process, builds runbridge on it, and connects the official MCP client the way a host
would: targets are listed, the gated workflow starts, progress draws a bar, the gate asks *you* (through the
client's elicitation callback), and the result and its usage are printed.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
from typing import Any, TextIO

import anyio
import anyio.from_thread
import anyio.lowlevel
from mcp import Client
from mcp.client.context import ClientRequestContext
from mcp_types import ElicitRequestFormParams, ElicitRequestParams, ElicitResult

from ..core.config import Profile, Settings
from ..core.errors import ConfigError
from ..core.families import find_family
from ..server import build_server

__all__ = ["run_demo"]

_KEY_ENV = "RUNBRIDGE_DEMO_SANDBOX_KEY"
_BAR = 28


class Terminal:
    """Output for the demo: a redrawn progress bar on a terminal, plain lines otherwise."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.live = out.isatty()
        self._bar_shown = False

    def line(self, text: str = "") -> None:
        self._end_bar()
        print(text, file=self.out, flush=True)

    def progress(self, value: float, total: float | None, message: str | None) -> None:
        text = message or ""
        if total:
            filled = min(_BAR, int(_BAR * value / total))
            text = f"[{'#' * filled}{'.' * (_BAR - filled)}] {min(value, total):4.1f}/{total:g}  {text}"
        if self.live:
            width = 110
            print("\r" + text[:width].ljust(width), end="", file=self.out, flush=True)
            self._bar_shown = True
        else:
            print(f"  {text}", file=self.out, flush=True)

    def _end_bar(self) -> None:
        if self._bar_shown:
            print(file=self.out, flush=True)
            self._bar_shown = False


class TerminalHuman:
    """The elicitation callback: asks the person at the terminal, or answers as told (`--non-interactive`)."""

    def __init__(self, term: Terminal, *, interactive: bool, answer: str) -> None:
        self.term = term
        self.interactive = interactive
        self.answer = answer

    async def __call__(self, context: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.term.line()
        self.term.line("── The run needs a human decision ──")
        self.term.line(params.message)
        if not isinstance(params, ElicitRequestFormParams):
            self.term.line(f"(open {getattr(params, 'url', '')} and finish there)")
            return ElicitResult(action="accept")
        props: dict[str, Any] = params.requested_schema.get("properties", {})
        if not self.interactive:
            return self._scripted(props)
        content: dict[str, Any] = {}
        for name, prop in props.items():
            try:
                value = await self._ask(name, prop, required=name in params.requested_schema.get("required", []))
            except EOFError:  # stdin closed (Ctrl-D, or nothing piped in): nobody answered, so nothing is decided
                self.term.line()
                self.term.line("No answer (the input ended): the question stays open.")
                self.term.line("Run `runbridge demo --non-interactive --answer approve` to have the demo answer it.")
                return ElicitResult(action="cancel")
            if value is None:
                return ElicitResult(action="decline")
            if value != "":
                content[name] = value
        return ElicitResult(action="accept", content=content)

    def _scripted(self, props: dict[str, Any]) -> ElicitResult:
        if self.answer == "reject":
            self.term.line("→ answering: decline (--answer reject)")
            return ElicitResult(action="decline")
        content: dict[str, Any] = {}
        for name, prop in props.items():
            choices = _choices(prop)
            if choices:
                content[name] = "accept" if "accept" in choices else choices[0]
            elif prop.get("type") == "boolean":
                content[name] = True
            elif prop.get("type") == "string" and name != "feedback":
                content[name] = "demo answer"
        self.term.line(f"→ answering: accept {json.dumps(content)} (--answer approve)")
        return ElicitResult(action="accept", content=content)

    async def _ask(self, name: str, prop: dict[str, Any], *, required: bool) -> Any:
        title = prop.get("title", name)
        choices = _choices(prop)
        hint = f" [{'/'.join(choices)}]" if choices else " [y/n]" if prop.get("type") == "boolean" else ""
        optional = "" if required else " (optional, Enter to skip)"
        while True:
            raw = await _read_line(f"{title}{hint}{optional} (or 'decline'): ")
            raw = raw.strip()
            if raw == "decline":
                return None
            if not raw and not required:
                return ""
            if choices:
                chosen = _choose(raw, choices)
                if chosen is None:
                    self.term.line(f"  please type one of: {', '.join(choices)}")
                    continue
                return chosen
            if prop.get("type") == "boolean":
                return raw.lower() in ("y", "yes", "true", "1")
            if raw:
                return raw


async def _read_line(prompt: str) -> str:
    """`input(prompt)` in a daemon thread, so that a Ctrl-C at the prompt ends the demo at once: a worker thread
    blocked on the terminal would keep the process alive until someone pressed Enter. EOF raises `EOFError`."""
    answered = anyio.Event()
    token = anyio.lowlevel.current_token()
    got: list[str | BaseException] = []

    def read() -> None:
        try:
            got.append(input(prompt))
        except BaseException as exc:  # EOFError, mostly: handed to the loop, which raises it
            got.append(exc)
        with contextlib.suppress(RuntimeError):  # the demo ended while this thread waited for a line
            anyio.from_thread.run_sync(answered.set, token=token)

    threading.Thread(target=read, name="runbridge-demo-input", daemon=True).start()
    await answered.wait()
    line = got[0]
    if isinstance(line, BaseException):
        raise line
    return line


# What people type for "yes" at an approval, when the choices say it as "accept".
_ACCEPT_WORDS = frozenset({"approve", "approved", "yes", "y", "ok"})


def _choose(typed: str, choices: list[str]) -> str | None:
    """The choice a person meant: itself (any case), the one choice it begins, or "accept" for "approve"/"yes"."""
    word = typed.lower()
    exact = [c for c in choices if c.lower() == word]
    if exact:
        return exact[0]
    if word in _ACCEPT_WORDS and "accept" in choices:
        return "accept"
    begun = [c for c in choices if c.lower().startswith(word)] if word else []
    return begun[0] if len(begun) == 1 else None


def _choices(prop: dict[str, Any]) -> list[str]:
    if "oneOf" in prop:
        return [str(o["const"]) for o in prop["oneOf"]]
    return [str(o) for o in prop.get("enum", [])]


async def _demo(workflow: str | None, interactive: bool, answer: str, speed: float, out: TextIO, family: str) -> int:
    from ..sandbox import SandboxServer

    term = Terminal(out)
    # The family's spec says what it runs by default and which workflows its profile names (OpenWOP has no
    # catalogue to list, while a Synapse server lists its own orchestrations), and which sandbox speaks its wire.
    spec = find_family(family)
    if spec is None or spec.demo is None or spec.sandbox is None:
        raise ConfigError(f"The {family} family has no demo.")
    label, shown = spec.display_name, spec.demo.workflows
    workflow = workflow or spec.demo.workflow
    with SandboxServer(spec.sandbox, speed=speed) as sandbox:
        term.line(f"Sandbox {label} backend listening on {sandbox.base_url}")
        os.environ[_KEY_ENV] = sandbox.api_key
        profile = Profile.model_validate(
            {
                "name": "sandbox",
                "family": family,
                "base_url": sandbox.base_url,
                "api_key_env": _KEY_ENV,
                "workflows": list(shown),
            }
        )
        # The demo's own client has no 60 s timeout: it follows the run to its end, not to the hosts' wait cap.
        settings = Settings(
            profiles={"sandbox": profile},
            state_path=":memory:",
            wait_seconds=60,
            max_wait_seconds=60,
            call_budget_seconds=70,
        )
        human = TerminalHuman(term, interactive=interactive, answer=answer)
        async with Client(build_server(settings), elicitation_callback=human) as client:
            term.line(f"Connected an MCP client to runbridge (protocol {client.protocol_version}).\n")
            targets = (await client.call_tool("targets_list", {})).structured_content or {}
            term.line("What can be run:")
            for target in targets.get("targets", []):
                term.line(f"  {target['id']:<15} {target.get('name') or ''} — {target.get('description') or ''}")
            term.line(f"\nStarting {workflow!r} …")

            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                term.progress(progress, total, message)

            result = await client.call_tool("runs_start", {"target_id": workflow}, progress_callback=on_progress)
        report = result.structured_content or {}
        term.line()
        if result.is_error:
            term.line(f"The call failed: {result.content[0].text if result.content else 'unknown error'}")  # type: ignore[union-attr]
            return 1
        term.line(
            f"Run {report.get('run_id')}: {report.get('status')}"
            + (f" (you {report['decision']})" if report.get("decision") else "")
        )
        if report.get("outputs") is not None:
            term.line(f"Outputs: {json.dumps(report['outputs'], indent=1)}")
        if report.get("error"):
            term.line(f"Error: {report['error']}")
        usage = report.get("usage") or {}
        if usage:
            parts = [f"{usage['total_tokens']} tokens"] if usage.get("total_tokens") else []
            if usage.get("cost_usd") is not None:
                parts.append(f"${usage['cost_usd']:.4f}")
            if parts:
                term.line(f"Usage: {', '.join(parts)}")
        if report.get("waiting_for"):
            term.line(f"Still waiting: {report['waiting_for']['prompt']}")
        return 0 if report.get("done") else 3


def run_demo(
    *,
    workflow: str | None = None,
    interactive: bool,
    answer: str,
    speed: float,
    out: TextIO | None = None,
    family: str,
) -> int:
    """Run the demo on the sandbox of `family` (one whose spec has `demo` defaults); `workflow` defaults per family."""
    return anyio.run(_demo, workflow, interactive, answer, speed, out or sys.stdout, family)
