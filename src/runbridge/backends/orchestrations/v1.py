"""Synapse v1 runs (docs/backends/orchestrations.md): streamed runs and resumes read into run logs in the background,
and the synchronous `/run` and `/resume`, whose one answer becomes the same events.

A POST stream must outlive the tool call that started it, so it is read by a task of the server's task group
(`tasks`). The task reports back once the stream is usable (the run id is known, or the resume was accepted) and
never raises after that: a broken stream marks the log instead, so that a failing backend cannot take the server
down. Errors before that point reach the caller as themselves (401, 404, the server refusing the run). A bug in
runbridge (anything but `BROKEN`) is logged with its traceback and said to be one, never taken for a broken
connection.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx2
from anyio.abc import TaskGroup, TaskStatus

from ...core.errors import BackendError, BackendTimeoutError, RunbridgeError, StreamError, TransportError
from ...core.models import Gate
from ...core.protocols import StreamKeeper
from ...http import HttpClient, iter_messages, segment
from .._runlog import BROKEN, stream_problem
from .._runlog import RunLog as GenericRunLog
from .events import EventMapper
from .wire import api_path, as_dict, parse_data

__all__ = ["LOST_V1", "RunLog", "V1Runs"]

_SSE = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}

RunLog = GenericRunLog[EventMapper]
NewLog = Callable[[str], RunLog]
"""Make (and register) the log of a run by its id."""


LOST_V1 = (
    "Synapse v1 cannot re-attach to a run's events: the run goes on on the server, but runbridge can no longer see "
    "it. If it stops at a human gate, the gate cannot be shown here; enable the v2 API (profile option api_versions) "
    "to follow runs that way."
)
"""What a lost v1 stream means, said after "Lost the event stream of run ... (why)"."""


_logger = logging.getLogger("runbridge.orchestrations")


def _bug(exc: Exception, what: str) -> str:
    """Log a bug with its traceback (it is runbridge's, not the backend's) and say so in the broken log's words."""
    _logger.error("a bug stopped reading %s", what, exc_info=exc)
    return f"runbridge failed reading it ({type(exc).__name__}, an internal error: its log has the details)"


class V1Runs:
    """The v1 run and resume calls of one profile."""

    def __init__(self, http: HttpClient, tasks: TaskGroup | None) -> None:
        self.http = http
        self.tasks = tasks
        self.keeper: StreamKeeper | None = None  # told of each stream read, its events as they arrive
        self._kept: dict[str, int] = {}  # per run: how many of its log's events the keeper was given

    async def _keep(self, log: RunLog) -> None:
        """Give the keeper the log's events it has not had yet."""
        if self.keeper is None:
            return
        kept = self._kept.get(log.run_id, 0)
        if len(log.events) > kept:
            self._kept[log.run_id] = len(log.events)
            await self.keeper.read(log.run_id, log.events[kept:])

    async def _began(self, log: RunLog) -> None:
        if self.keeper is not None:
            await self.keeper.reading(log.run_id)
            await self._keep(log)

    async def _ended(self, log: RunLog, problem: str | None = None) -> None:
        """A stream into the log is over (`problem`: why it broke): the keeper has every event, and hears when no
        stream of the run is read any more."""
        log.stream_ended(problem)
        await self._keep(log)
        if self.keeper is not None and not log.streaming:
            await self.keeper.done(log.run_id)

    # -- streamed ------------------------------------------------------------------------------------------------

    async def start_streamed(self, target_id: str, body: dict[str, Any], new_log: NewLog) -> RunLog:
        """POST `/run/stream` and return the run's log once the stream named the run; the rest arrives later."""
        assert self.tasks is not None
        log: RunLog = await self.tasks.start(self._run_stream, target_id, body, new_log)
        return log

    async def _run_stream(
        self, target_id: str, body: dict[str, Any], new_log: NewLog, *, task_status: TaskStatus[RunLog]
    ) -> None:
        path = api_path("v1", f"/orchestrations/{segment(target_id)}/run/stream")
        log: RunLog | None = None
        try:
            async with self.http.stream(
                "POST", path, action=f"start orchestration {target_id!r}", json=body, headers=_SSE
            ) as response:
                async for message in iter_messages(response):
                    raw = parse_data(message.data)
                    if raw is None:
                        continue
                    if log is None:
                        log = self._announced(raw, new_log)
                        if log is None:
                            continue
                        log.begin_stream()
                        await self._began(log)
                        task_status.started(log)
                    more = log.take(raw)
                    await self._keep(log)
                    if not more:
                        break
            if log is None:
                raise StreamError("The orchestration's event stream ended before it named the run.")
            await self._ended(log)
        except BROKEN as exc:
            if log is not None:
                await self._ended(log, stream_problem(exc))
            elif isinstance(exc, RunbridgeError) and not isinstance(exc, StreamError):
                raise  # the server refused the run (401, 404, ...): the caller of start_run gets the error itself
            else:  # the run may exist, but its id was never seen: say so, so that nobody starts it twice unawares
                raise StreamError(
                    f"Could not start orchestration {target_id!r}: its event stream broke before it named the run "
                    f"({stream_problem(exc)}). The run may have started on the server anyway: check there before "
                    "starting it again."
                ) from None
        except Exception as exc:
            problem = _bug(exc, f"the event stream of orchestration {target_id!r}")
            if log is None:
                raise  # the call that starts the run fails with it
            await self._ended(log, problem)

    def _announced(self, raw: dict[str, Any], new_log: NewLog) -> RunLog | None:
        """The log of the run a stream's first events name (`orchestration_start`, or a gate's `run_id`)."""
        run_id = raw.get("run_id")
        if isinstance(run_id, str) and run_id:
            return new_log(run_id)
        if raw.get("type") == "orchestration_error":
            raise BackendError(f"Could not start the run: {raw.get('error') or 'the server refused it'}")
        if raw.get("type") == "done":
            raise StreamError("The orchestration's event stream ended before it named the run.")
        return None

    async def resume_streamed(self, log: RunLog, gate: Gate, body: dict[str, Any]) -> None:
        """POST `/resume/stream`; returns once the server accepted it, the stream is read into the log."""
        assert self.tasks is not None
        await self.tasks.start(self._resume_stream, log, gate, body)

    async def _resume_stream(
        self, log: RunLog, gate: Gate, body: dict[str, Any], *, task_status: TaskStatus[None]
    ) -> None:
        path = api_path("v1", f"/orchestrations/runs/{segment(log.run_id)}/resume/stream")
        accepted = False
        try:
            async with self.http.stream("POST", path, action="resume the run", json=body, headers=_SSE) as response:
                log.resumed(gate)  # before any of the stream's events, whatever the scheduling
                log.begin_stream()
                accepted = True
                await self._began(log)
                task_status.started()
                async for message in iter_messages(response):
                    raw = parse_data(message.data)
                    if raw is None:
                        continue
                    more = log.take(raw)
                    await self._keep(log)
                    if not more:
                        break
            await self._ended(log)
        except BROKEN as exc:
            if not accepted:
                raise
            await self._ended(log, stream_problem(exc))
        except Exception as exc:
            problem = _bug(exc, f"the resume stream of run {log.run_id}")
            if not accepted:
                raise  # the call that resumes the run fails with it
            await self._ended(log, problem)

    # -- synchronous ---------------------------------------------------------------------------------------------

    async def start_sync(self, target_id: str, body: dict[str, Any], new_log: NewLog) -> RunLog:
        """POST `/run`: the run's first stretch (to a gate or the end) in one answer."""
        path = api_path("v1", f"/orchestrations/{segment(target_id)}/run")
        doc = await self._post(path, body, action=f"run orchestration {target_id!r}")
        run_id = doc.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise BackendError("The server ran the orchestration but returned no run_id", backend="orchestrations")
        log = new_log(run_id)
        log.take({"type": "orchestration_start", "run_id": run_id, "orchestration_id": target_id})
        self._take_result(log, doc)
        return log

    async def resume_sync(self, log: RunLog, gate: Gate, body: dict[str, Any]) -> None:
        path = api_path("v1", f"/orchestrations/runs/{segment(log.run_id)}/resume")
        doc = await self._post(path, body, action="resume the run")
        log.resumed(gate)
        self._take_result(log, doc)

    async def _post(self, path: str, body: dict[str, Any], *, action: str) -> dict[str, Any]:
        # Through `stream` for its read timeout: a synchronous run answers only once it pauses or ends.
        try:
            async with self.http.stream("POST", path, action=action, json=body) as response:
                content = await response.aread()
        except httpx2.TimeoutException:
            raise BackendTimeoutError(f"Could not {action}: the server did not answer in time.") from None
        except httpx2.TransportError as exc:
            raise TransportError(f"Could not {action}: the connection broke ({type(exc).__name__}).") from None
        try:
            return as_dict(json.loads(content))
        except ValueError:
            raise BackendError(f"Could not {action}: the answer is not JSON", backend="orchestrations") from None

    def _take_result(self, log: RunLog, doc: dict[str, Any]) -> None:
        """A synchronous result as the events a stream would have brought: the gate, or the steps and the end.

        Failures arrive as HTTP 200 with `status: failed` and the reason in `response`.
        """
        status = str(doc.get("status", ""))
        log.begin_stream()  # one answer, read like a stream that brought these events
        if status == "paused":
            log.take({"type": "human_input_required", "run_id": log.run_id, **as_dict(doc.get("human_input_required"))})
            log.take({"type": "done"})
            log.stream_ended()
            return
        history = doc.get("step_history") if isinstance(doc.get("step_history"), list) else []
        for item in history or []:
            entry = as_dict(item)
            where = {"orch_step_id": entry.get("step_id"), "step_name": entry.get("step_name")}
            if entry.get("status") == "failed":
                log.take({"type": "step_error", **where, "error": "failed"})
            else:
                log.take({"type": "step_complete", **where, "duration_seconds": entry.get("duration_seconds")})
        data = {"status": status, "step_history": history, "shared_state": doc.get("shared_state") or {}}
        log.take({"type": "final", "intent": "orchestration", "response": doc.get("response"), "data": data})
        log.take({"type": "done"})
        log.stream_ended()
