"""Drives an orchagent threads/runs server with the official SDK, `orchagent` 0.1.3, through its documented flows
(README: auth, threads, runs, SSE, approvals, the chat helper), and prints what the SDK read as one JSON document.
Run by tests/real/test_official_orchagent.py with the SDK's own virtual environment; never imported by the suite.

Usage: `python drive_orchagent.py '<plan JSON>'`, the plan being `{"base_url": ..., "token_file": ..., "flows":
[{"name": ..., "flow": "<flow>", ...settings}]}`. Each flow's result is under its name; a flow the SDK cannot finish
records the step it stopped at (`failed`) and the exception (`error`); the other flows still run.

Flows:
- `account`: register a user (the token saved to `token_file`), log in again, read `/meta`.
- `chat`: a thread of `workflow`, thread secrets, one message through `ChatSession.ask`, the thread's history.
- `gates`: a thread of `workflow`, one message, its stream read until the run ends; at `auth.required` the run is
  resumed, at `approval.required` the tool is approved (`approve: true`) and the run resumed; each resume opens the
  stream again (it replays from the start). Then the history, and the approvals cleared.

The SDK has no cancel (the server has none either): there is no cancel flow.
"""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from typing import Any

from flow_steps import Stop, step
from orchagent import OrchClient
from orchagent.chat import ChatSession
from orchagent.config import Settings
from orchagent.errors import OrchError

END = ("run.completed", "error")
GATES = ("auth.required", "approval.required")


def described(exc: BaseException) -> dict[str, Any]:
    out: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"[:600]}
    if not isinstance(exc, OrchError):
        out["where"] = traceback.format_exception(exc)[-2].strip()[:300]
    return out


def read_until(events: Any, stop: tuple[str, ...], *, skip: int = 0) -> list[dict[str, Any]]:
    """Events until a new one whose type is in `stop`. The stream replays the run from its start on every
    connection, so the first `skip` events (read on earlier connections) are not new."""
    out = []
    for event in events:
        out.append(event)
        if len(out) > skip and event.get("type") in stop:
            break
    return out


def account(c: OrchClient, flow: dict[str, Any], out: dict[str, Any]) -> None:
    token = step("register", c.auth.register, flow["email"], flow["password"])
    out["registered"] = bool(token)
    out["token_saved"] = c.auth.get_token() == token
    again = step("login", c.auth.login, flow["email"], flow["password"])
    out["logged_in"] = bool(again)
    out["meta"] = step("meta", c.get_meta)


def chat(c: OrchClient, flow: dict[str, Any], out: dict[str, Any]) -> None:
    thread = out["thread_id"] = step("thread", c.threads.create, {"workflow": flow["workflow"]})
    step("secrets", c.threads.set_secrets, thread, {"providers": {"openai": {"api_key": "sk-official-client"}}})
    events = step("ask", lambda: read_until(ChatSession(c, thread).ask(flow["prompt"]), END))
    out["types"] = [e.get("type") for e in events]
    out["answer"] = (events[-1].get("details") or {}).get("output")
    out["history"] = [(h.role, h.content) for h in step("history", c.threads.history, thread)]


def gates(c: OrchClient, flow: dict[str, Any], out: dict[str, Any]) -> None:
    thread = out["thread_id"] = step("thread", c.threads.create, {"workflow": flow["workflow"]})
    run = step("send", c.runs.send_message, thread, flow["prompt"])
    run_id = out["run_id"] = run["run_id"]
    out["connections"] = []
    out["resumed"] = []
    seen = 0
    for _ in range(5):
        events = step("stream", read_until, c.runs.stream_events(run_id), (*END, *GATES), skip=seen)
        out["connections"].append([e.get("type") for e in events[seen:]])
        out.setdefault("replayed", []).append([e.get("type") for e in events[:seen]])
        seen = len(events)
        last = events[-1] if events else {}
        if last.get("type") in END or last.get("type") not in GATES:
            out["end"] = last
            break
        details = last.get("details") or {}
        if last["type"] == "approval.required":
            out.setdefault("asked", []).append(details)
            if flow.get("approve", True):
                keys = sorted(details.get("args") or {})
                out.setdefault("approved", []).append(
                    step("approve", c.approvals.approve, run_id, details["tool"], details.get("server", "mcp"), keys)
                )
        else:
            out.setdefault("auth", []).append({"redirect_url": details.get("redirect_url") or last.get("redirect_url")})
        out["resumed"].append(step("resume", c.runs.resume, run_id))
    out["history"] = [(h.role, h.content) for h in step("history", c.threads.history, thread)]
    out["cleared"] = step("clear", c.approvals.clear)


def main() -> None:
    plan = json.loads(sys.argv[1])
    c = OrchClient(
        settings=Settings(base_url=plan["base_url"], token_path=Path(plan["token_file"]), timeout_seconds=15)
    )
    results: dict[str, Any] = {}
    for flow in plan["flows"]:
        print(f"flow {flow['name']}", file=sys.stderr, flush=True)
        out: dict[str, Any] = {}
        try:
            {"account": account, "chat": chat, "gates": gates}[flow["flow"]](c, flow, out)
        except Stop as stop:
            out["failed"] = stop.step
            out.update(described(stop.exc))
        results[flow["name"]] = out
    print(json.dumps(results, default=str))


if __name__ == "__main__":
    main()
