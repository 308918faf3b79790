"""The agent-call part of the platform adapter: `POST /{org}/{agent}/{version}/{endpoint}` as a run.

A call is read in the background (the server's task group) into the run's log (`backends/_runlog.py`), which
`watch` reads: a streamed call (managed-loop agents, `Accept: text/event-stream`) delivers `progress` events and
ends with `result` or `error`; a synchronous one answers once, with the success envelope. `call_agent` returns as
soon as the platform answered (at most a couple of seconds): the run's id is then the `X-Run-Id` the platform gave
(its workspace run), or, for a synchronous call still running, runbridge's own `call_…` id, with the workspace run
noted once known. A call the platform refuses at once (bad input, a precondition) is the tool's error.

`llm_credentials` are only ever read from the environment variable the profile names; a tool call carrying them
is refused, whatever their form.
"""

from __future__ import annotations

import json
import logging
import secrets as token
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2

from ...core import budget
from ...core.agents import AgentCallRequest
from ...core.config import Profile
from ...core.errors import BackendError, ConfigError, InputError, RunbridgeError, StreamError, sentences
from ...core.logs import register_secret
from ...core.models import Run, RunStatus, StartRequest
from ...http import iter_messages
from .._runlog import RunLog
from .client import PlatformHttp
from .events import CallFeed, warnings_text
from .locating import LOCAL_PREFIX, input_digest
from .refs import AgentRef, parse_ref
from .spec import PlatformOptions
from .wire import scrub

__all__ = ["CALL_OPTIONS", "AgentCalls", "Call"]

log = logging.getLogger("runbridge.platform")

_ANSWER_WAIT = 2.0  # how long call_agent waits for the platform's first answer before returning a handle
_SSE = "text/event-stream"
# What `options` of an agent call may hold: name -> the header it sets (None: a query parameter).
CALL_OPTIONS: dict[str, str | None] = {
    "tenant": "X-Orchagent-Tenant",
    "skills": "X-Orchagent-Skills",
    "skills_only": "X-Orchagent-Skills-Only",
    "no_skills": "X-Orchagent-No-Skills",
    "max_hops": "X-Orchagent-Max-Hops",
    "deadline_ms": "X-Orchagent-Deadline-Ms",
    "verbose": None,
}


class Call:
    """One agent call: its log once the run has an id, and what the call said first (an answer, or a refusal)."""

    def __init__(self, ref: AgentRef, digest: str = "") -> None:
        self.ref = ref
        self.local_id = f"{LOCAL_PREFIX}{token.token_hex(8)}"
        self.sent_at = datetime.now(UTC)
        self.digest = digest
        self.run_id: str | None = None
        self.workspace_run: str | None = None
        self.log: RunLog[CallFeed] | None = None
        self.answered = anyio.Event()
        self.failure: RunbridgeError | None = None

    def assign(self, run_id: str) -> RunLog[CallFeed]:
        """The run's id, once: the first to decide (the answer, or call_agent giving up waiting) makes the log."""
        if self.log is None:
            self.run_id = run_id
            self.log = RunLog(
                run_id,
                CallFeed(run_id, str(self.ref)),
                target_id=str(self.ref),
                ends_with="result",
                lost="The call may go on on orchagent.io: runs_get reads how it ended from the workspace run's logs.",
            )
            self.log.take({"type": "started"})
        return self.log

    def locator(self) -> dict[str, str]:
        """What finds the call again in another runbridge process (`locating.py`): under runbridge's own id, the
        agent, when it was sent and what (a digest), and its workspace run once the platform named it."""
        found = {"agent": str(self.ref)}
        if self.run_id == self.local_id:
            found |= {"sent_at": self.sent_at.isoformat(), "input_digest": self.digest}
            if self.workspace_run:
                found["workspace_run"] = self.workspace_run
        return found


def _refuse_secrets(request: AgentCallRequest) -> None:
    if "llm_credentials" in request.input or "llm_credentials" in request.options:
        raise InputError(
            "llm_credentials never travel in a tool call: a person names the environment variable holding the key "
            "in the profile's options.llm_credentials, and runbridge sends it. Nothing was sent."
        )


class AgentCalls:
    """`AgentCallAPI`, and `RunsAPI.start_run` (a target is an agent: starting it calls it)."""

    wire: PlatformHttp
    profile: Profile
    options: PlatformOptions
    env: Any
    tasks: Any
    calls: dict[str, Call]

    async def start_run(self, request: StartRequest) -> Run:
        return await self.call_agent(
            AgentCallRequest(agent_id=request.target_id, input=dict(request.inputs), message=request.message)
        )

    async def call_agent(self, request: AgentCallRequest) -> Run:
        _refuse_secrets(request)
        ref, info = await self._resolve(request)
        streams = bool(info.get("streams")) if request.stream is None else request.stream
        endpoint = request.endpoint or str(info.get("default_endpoint") or "analyze")
        body = dict(request.input)
        if request.message is not None:
            body.setdefault("text", request.message)
        credentials = self._llm_credentials()
        if credentials:
            body["llm_credentials"] = credentials
        headers, params = self._call_headers(request.options, streams)
        path = f"/{ref.path}/{endpoint}"
        call = Call(ref, input_digest(body))
        if self.tasks is None:  # no server around it (a script, a test): the call is read to its end first
            await self._perform(call, path, body, headers, params)
        else:
            self.tasks.start_soon(self._perform, call, path, body, headers, params)
            with anyio.move_on_after(_ANSWER_WAIT):
                await call.answered.wait()
        if call.failure is not None:
            raise call.failure
        run_log = call.assign(call.run_id or call.local_id)
        run_id = call.run_id or call.local_id
        self.calls[run_id] = call
        details = {"agent": str(ref), "endpoint": endpoint, "streamed": streams}
        if call.workspace_run:
            details["workspace_run_id"] = call.workspace_run
        status = run_log.status if call.answered.is_set() else RunStatus.QUEUED
        return Run(run_id=run_id, target_id=str(ref), status=status, details=details, locator=call.locator())

    async def _resolve(self, request: AgentCallRequest) -> tuple[AgentRef, dict[str, Any]]:
        """The agent's reference (with the requested version) and what calling it needs (endpoint, streaming)."""
        parsed = parse_ref(request.agent_id)
        if isinstance(parsed, str):
            agent = await self.agent_details(parsed)  # type: ignore[attr-defined]  (AgentCatalogue)
            parsed = parse_ref(str(agent.details.get("ref")))
            assert isinstance(parsed, AgentRef)
        else:
            agent = await self.agent_details(str(parsed.with_version(request.version)))  # type: ignore[attr-defined]
        ref = parsed.with_version(request.version or agent.version or parsed.version)
        return ref, dict(agent.details)

    def _llm_credentials(self) -> dict[str, str] | None:
        named = self.options.llm_credentials
        if named is None:
            return None
        key = self.env.get(named.api_key_env)
        if not key:
            raise ConfigError(
                f"Profile {self.profile.name!r} sends its LLM key from ${named.api_key_env}, which is not set in "
                "runbridge's environment: a person must set it (or remove options.llm_credentials)."
            )
        register_secret(key)
        out = {"provider": named.provider, "api_key": key}
        if named.model:
            out["model"] = named.model
        return out

    def _call_headers(self, options: dict[str, Any], streams: bool) -> tuple[dict[str, str], dict[str, str]]:
        unknown = sorted(set(options) - set(CALL_OPTIONS))
        if unknown:
            raise InputError(
                f"Unknown call option(s) {', '.join(unknown)} for orchagent.io: it takes {', '.join(CALL_OPTIONS)}."
            )
        headers = {"Accept": _SSE if streams else "application/json"}
        if self.options.tenant:
            headers["X-Orchagent-Tenant"] = self.options.tenant
        if self.options.workspace_id:
            headers["X-Workspace-Id"] = self.options.workspace_id
        params: dict[str, str] = {}
        for name, value in options.items():
            header = CALL_OPTIONS[name]
            text = (
                ",".join(map(str, value))
                if isinstance(value, list)
                else str(value).lower()
                if isinstance(value, bool)
                else str(value)
            )
            if header is None:
                params[name] = text
            else:
                headers[header] = text
        return headers, params

    # -- the call, in the background ----------------------------------------------------------------------------

    async def _perform(
        self, call: Call, path: str, body: dict[str, Any], headers: dict[str, str], params: dict[str, str]
    ) -> None:
        with budget.call_budget(None):  # the call outlives the tool call that started it
            try:
                await self._send(call, path, body, headers, params)
            except RunbridgeError as exc:
                if not call.answered.is_set():
                    call.failure = exc
                else:
                    self._ended_badly(call, str(exc))
            except Exception as exc:  # a bug: logged with its traceback, and the run says runbridge lost it
                log.error("a bug stopped reading agent call %s", call.ref, exc_info=exc)
                problem = (
                    f"runbridge failed reading it ({type(exc).__name__}, an internal error: its log has the details)"
                )
                if not call.answered.is_set():
                    call.failure = StreamError(f"Could not call {call.ref}: {problem}.")
                else:
                    self._ended_badly(call, problem)
            finally:
                call.answered.set()

    async def _send(
        self, call: Call, path: str, body: dict[str, Any], headers: dict[str, str], params: dict[str, str]
    ) -> None:
        action = f"call agent {call.ref}"
        for attempt in range(3):
            try:
                async with self.wire.http.stream(
                    "POST", path, action=action, json=body, headers=headers, params=params or None
                ) as response:
                    call.workspace_run = response.headers.get("x-run-id") or None
                    run_log = call.assign(call.workspace_run or call.local_id)
                    call.answered.set()
                    if response.headers.get("content-type", "").startswith(_SSE):
                        await self._read_stream(call, run_log, response)
                    else:
                        await self._read_answer(run_log, response)
                return
            except BackendError as exc:
                error = self.wire.explain(exc)
                wait = error.retry_after if error.retry_after is not None else 1.0
                if (
                    error.status != 429
                    or not error.retryable
                    or attempt == 2
                    or wait > self.options.max_rate_limit_wait_seconds
                ):
                    raise error from None
                await anyio.sleep(wait)  # a call refused with 429 was not carried out: the same call again

    async def _read_answer(self, run_log: RunLog[CallFeed], response: httpx2.Response) -> None:
        try:
            doc = json.loads(await response.aread() or b"null")
        except ValueError:
            raise StreamError("orchagent.io answered the call with a body that is not JSON.") from None
        except httpx2.TransportError as exc:
            raise StreamError(f"orchagent.io's answer to the call broke off ({type(exc).__name__}).") from None
        doc = scrub(doc)
        run_log.take({"type": "result", "data": doc, "note": self._note(doc)})

    async def _read_stream(self, call: Call, run_log: RunLog[CallFeed], response: httpx2.Response) -> None:
        run_log.begin_stream()
        ended = False
        try:
            async for message in iter_messages(response):
                try:
                    data = scrub(json.loads(message.data))
                except ValueError:
                    continue
                if message.event == "progress":
                    run_log.take({"type": "progress", "data": data})
                elif message.event == "result":
                    run_log.take({"type": "result", "data": data, "note": self._note(data)})
                    ended = True
                    break
                elif message.event == "error":
                    run_log.take({"type": "error", **self._stream_error(data)})
                    ended = True
                    break
        except (httpx2.TransportError, RunbridgeError) as exc:
            await self._settle_from_logs(call)  # before the log says the stream is over: watchers wait for this
            run_log.stream_ended(
                str(exc) if isinstance(exc, RunbridgeError) else f"the connection broke ({type(exc).__name__})"
            )
            return
        if not ended:
            await self._settle_from_logs(call)
        run_log.stream_ended(None if ended else "the stream ended before its result")

    def _stream_error(self, data: Any) -> dict[str, Any]:
        err = data.get("error") if isinstance(data, dict) else None
        err = err if isinstance(err, dict) else {}
        error = BackendError(str(err.get("message") or "the agent failed"), backend="platform", code=err.get("code"))
        return {"message": str(self.wire.explain(error)), "code": err.get("code")}

    def _note(self, doc: Any) -> str | None:
        warnings = doc.get("warnings") if isinstance(doc, dict) else None
        said = warnings_text(warnings) if isinstance(warnings, list) else None
        return (
            sentences(
                f"The agent warns: {said}" if said else "",
                self.wire.quota.note(self.options.quota_warning_fraction) or "",
            )
            or None
        )

    def _ended_badly(self, call: Call, problem: str) -> None:
        if call.log is not None and not call.log.ended:
            call.log.take({"type": "error", "message": problem, "code": None})

    async def _settle_from_logs(self, call: Call) -> None:
        """A stream lost before its end: the workspace run's status says how the call ended, if it did."""
        if call.workspace_run is None or call.log is None:
            return
        try:
            run = await self.workspace_run(call.workspace_run)  # type: ignore[attr-defined]  (WorkspaceRuns)
        except RunbridgeError:
            return
        if run.status is RunStatus.COMPLETED:
            call.log.take({"type": "result", "data": {"data": run.outputs, "metadata": {}}})
        elif run.status.terminal:
            call.log.take({"type": "error", "message": run.error or f"the run ended {run.raw_status}", "code": None})
