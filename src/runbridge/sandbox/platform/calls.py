"""`POST /{org}/{agent}/{version}/{endpoint}`: an agent call, answered at once with the success envelope, or, for a
managed-loop agent asked for `text/event-stream`, streamed as named `progress` events and one `result` or `error`.

Before an agent runs, the call is checked as the platform checks it: the quota (429 `RATE_LIMITED`), the input
against the agent's schema (400 `INVALID_INPUT`), credits for a paid agent (402 `INSUFFICIENT_CREDITS`), the
caller's own LLM key where the agent needs one (400 `LLM_KEY_REQUIRED`; a key named `rate-limited...` gets 429
`LLM_RATE_LIMITED`, as a provider's limit would), and the workspace secrets it needs (400 `MISSING_SECRETS`, naming
the missing ones). Every call becomes a workspace run (`X-Run-Id`), with its tokens and cost.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator
from datetime import UTC, datetime
from typing import Any

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..sse import DROP, Drop, EventStreamResponse
from .catalogue import PERSONAL_WS, AgentVersion
from .data import WorkspaceRun
from .state import PlatformState
from .wire import enveloped, error

__all__ = ["CallRoutes"]

_TURN_SECONDS = 0.4  # a managed-loop turn, at speed 1


def _frame(event: str, data: dict[str, Any]) -> bytes:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n".encode()


def _missing(agent: AgentVersion, body: dict[str, Any]) -> list[str]:
    required = agent.input_schema.get("required") or []
    return [name for name in required if name not in body]


def _output(agent: AgentVersion, body: dict[str, Any]) -> tuple[Any, list[dict[str, Any]]]:
    text = str(body.get("text") or body.get("topic") or body.get("repo") or body.get("message") or "")
    if agent.behaviour == "audit" and not text:
        text = "the current repository"
    if agent.behaviour == "scan":
        warning = {"code": "LOW_CONFIDENCE", "field": "amount", "message": "Amount extracted with low confidence"}
        return {"vendor": "ACME", "amount": 1234.5}, [warning]
    if agent.behaviour == "audit":
        return {"findings": [{"file": "config.py", "issue": "hard-coded token"}], "summary": f"Audited {text}"}, []
    if agent.behaviour == "translate":
        return {"translation": f"[{body.get('to', '?')}] {text}"}, []
    if agent.behaviour == "write":
        return {"draft": f"A draft about {text}."}, []
    if agent.behaviour == "notify":
        return {"posted": True}, []
    words = text.split()
    result: dict[str, Any] = {"summary": " ".join(words[:12]) + ("…" if len(words) > 12 else "")}
    if agent.version == "v2" and agent.name == "summarizer":
        result["bullets"] = words[:3]
    return result, []


def _fails(agent: AgentVersion, body: dict[str, Any]) -> bool:
    """The `flaky` agent fails unless told `fail: false`; any other fails when told `fail: true`."""
    return body.get("fail", True) is not False if agent.behaviour == "fail" else body.get("fail") is True


class CallRoutes:
    def __init__(self, state: PlatformState) -> None:
        self.s = state

    async def _pause(self, seconds: float) -> None:
        speed = self.s.ctx.engine.speed
        if speed > 0:
            await anyio.sleep(seconds / speed)
        else:
            await anyio.lowlevel.checkpoint()

    async def call(self, request: Request) -> Response:
        p = request.path_params
        agent = self.s.find_version(p["org"], p["agent"], p["version"])
        if agent is None:
            return error(404, "NOT_FOUND", f"Agent '{p['org']}/{p['agent']}@{p['version']}' not found")
        if p["endpoint"] not in (agent.default_endpoint, "analyze", "run"):
            return error(404, "NOT_FOUND", f"Agent {agent.ref} has no endpoint {p['endpoint']!r}")
        if self.s.remaining <= 0:
            wait = max(1, int(self.s.reset_at - time.time()))
            stamp = datetime.fromtimestamp(self.s.reset_at, UTC).isoformat(timespec="seconds")
            return error(
                429, "RATE_LIMITED", f"Rate limit exceeded. Try again after {stamp}", retryable=True, wait=wait
            )
        try:
            body = json.loads(await request.body() or b"{}")
        except ValueError:
            return error(400, "INVALID_INPUT", "The body is not JSON")
        if not isinstance(body, dict):
            return error(400, "INVALID_INPUT", "The body must be a JSON object")
        credentials = body.pop("llm_credentials", None)
        refused = self._refused(agent, body, credentials)
        if refused is not None:
            return refused
        run = self._start(agent, body, request)
        stream = "text/event-stream" in request.headers.get("accept", "") and agent.managed_loop
        if stream:
            return EventStreamResponse(
                self._stream(agent, body, run), closing=self.s.ctx.closing, headers={"X-Run-Id": run.id}
            )
        started = time.monotonic()
        if agent.managed_loop:
            async for _ in self._loop(agent, run):
                pass
        else:
            await self._pause(_TURN_SECONDS)
        if _fails(agent, body):
            self._finish(run, None, failed="The agent's code raised ValueError: asked to fail")
            extra = {"hint": "Run it with fail: false to see it succeed"}
            return error(
                500,
                "SANDBOX_ERROR",
                "The agent's code raised ValueError: asked to fail",
                extra=extra,
                headers={"X-Run-Id": run.id},
            )
        output, warnings = _output(agent, body)
        if body.get("echo_key") is True and isinstance(credentials, dict):  # a careless agent
            output["echoed"] = f"my key is {credentials.get('api_key')}"
        self._finish(run, output)
        elapsed = int((time.monotonic() - started) * 1000)
        verbose = request.query_params.get("verbose") == "true"
        metadata = {
            "processing_time_ms": elapsed + 5,
            "version": agent.version,
            "execution_time_ms": elapsed,
            "usage": {"input_tokens": run.input_tokens, "output_tokens": run.output_tokens},
            "stdout": "" if verbose else None,
            "stderr": "" if verbose else None,
        }
        return JSONResponse(enveloped(output, metadata=metadata, warnings=warnings), headers={"X-Run-Id": run.id})

    def _refused(self, agent: AgentVersion, body: dict[str, Any], credentials: Any) -> Response | None:
        missing = _missing(agent, body)
        if missing:
            return error(400, "INVALID_INPUT", f"Missing required input: {', '.join(missing)}")
        if agent.price_per_call_cents > self.s.data.balance_cents:
            return error(
                402,
                "INSUFFICIENT_CREDITS",
                f"Insufficient credits: this call costs {agent.price_per_call_cents} cents and the balance is "
                f"{self.s.data.balance_cents} cents",
            )
        if agent.requires_llm_key:
            key = credentials.get("api_key") if isinstance(credentials, dict) else None
            if not isinstance(key, str) or not key:
                return error(400, "LLM_KEY_REQUIRED", "This agent requires your own LLM API key (llm_credentials)")
            if key.startswith("rate-limited"):
                return error(429, "LLM_RATE_LIMITED", "Your LLM provider rate limited the request (openai: 429)")
        absent = [n for n in agent.required_secrets if n not in self.s.secret_names(PERSONAL_WS)]
        if absent:
            return error(
                400, "MISSING_SECRETS", f"Agent requires secrets that were not found in workspace: {', '.join(absent)}."
            )
        return None

    def _start(self, agent: AgentVersion, body: dict[str, Any], request: Request) -> WorkspaceRun:
        self.s.remaining -= 1
        chain = request.headers.get("x-orchagent-call-chain")
        run = WorkspaceRun(
            id=str(uuid.uuid4()),
            workspace_id=PERSONAL_WS,
            agent_name=agent.name,
            agent_version=agent.version,
            org=agent.org,
            status="running",
            trigger_source="agent" if chain else ("cli" if request.headers.get("x-orchagent-client") else "api"),
            started_at=datetime.now(UTC),
            input_data=dict(body),
            tenant=request.headers.get("x-orchagent-tenant"),
            endpoint=request.path_params["endpoint"],
        )
        self.s.data.runs.append(run)
        return run

    def _finish(self, run: WorkspaceRun, output: Any, *, failed: str | None = None) -> None:
        agent = self.s.find_version(run.org, run.agent_name, run.agent_version)
        price = agent.price_per_call_cents if agent else 0
        run.duration_ms = int((datetime.now(UTC) - run.started_at).total_seconds() * 1000)
        run.input_tokens = 120 + 7 * len(json.dumps(run.input_data))
        run.output_tokens = 0 if failed else 40 + 3 * len(json.dumps(output))
        run.cost_cents = (
            0.0 if failed else round((run.input_tokens * 0.15 + run.output_tokens * 0.6) / 10_000 + price, 4)
        )
        if not failed:
            self.s.data.balance_cents -= price
        run.status, run.error_message, run.output_data = (
            ("failed", failed, None) if failed else ("completed", None, output)
        )
        run.exit_code = 1 if failed else 0
        run.stdout, run.stderr = "", (failed or "")

    async def _loop(self, agent: AgentVersion, run: WorkspaceRun) -> AsyncGenerator[dict[str, Any]]:
        """A managed loop's turns, as progress events (kept with the run for its logs). An input `turns` (1..500)
        sets how many the call takes (the benchmarks' long calls)."""
        tools = [("read_file", "README.md"), ("bash", "grep -rn token ."), ("write_file", "REPORT.md")]
        asked = run.input_data.get("turns")
        turns = max(1, min(500, asked)) if isinstance(asked, int) and not isinstance(asked, bool) else agent.max_turns
        for turn in range(1, turns + 1):
            for event in (
                {"type": "turn_start", "turn": turn, "max_turns": turns},
                {"type": "tool_call", "tool": tools[(turn - 1) % 3][0], "args_brief": tools[(turn - 1) % 3][1]},
                {"type": "tool_result", "status": "ok"},
            ):
                run.log.append(event)
                yield event
                await self._pause(_TURN_SECONDS / 3)
        run.log.append({"type": "done"})
        yield {"type": "done"}

    async def _stream(
        self, agent: AgentVersion, body: dict[str, Any], run: WorkspaceRun
    ) -> AsyncGenerator[bytes | Drop]:
        started = time.monotonic()
        async for event in self._loop(agent, run):
            yield _frame("progress", event)
        if _fails(agent, body):
            self._finish(run, None, failed="The loop gave up: asked to fail")
            yield _frame(
                "error",
                {
                    "error": {
                        "code": "SANDBOX_ERROR",
                        "message": "The loop gave up: asked to fail",
                        "is_retryable": False,
                    },
                    "metadata": {"request_id": f"req_{run.id[:8]}"},
                },
            )
            return
        output, warnings = _output(agent, body)
        self._finish(run, output)
        if body.get("drop_before_result") is True:  # the call is done, but its stream breaks before the result
            yield DROP
            return
        elapsed = int((time.monotonic() - started) * 1000)
        metadata = {
            "processing_time_ms": elapsed,
            "version": agent.version,
            "execution_time_ms": elapsed,
            "usage": {"input_tokens": run.input_tokens, "output_tokens": run.output_tokens},
        }
        yield _frame("result", enveloped(output, metadata=metadata, warnings=warnings))
