"""Reading orq.ai tasks into run logs in the background: a streamed call's events, a continued task's new stream,
and, where no stream shows a task (a stream that timed out, a non-streamed `task` call, a task from before a
restart), the task's state read with `GET /v2/agents/{key}/responses/{task_id}` until it is inactive.

A stream is opened by the POST that starts or continues the task and cannot be opened again, so it must outlive the
tool call that started it: it is read by a task of the server's task group. The reader reports back once the task
id is known (or the continuation was accepted) and never raises after that: a broken stream marks the log instead.
Errors before that point reach the caller as themselves (401, 404, orq.ai refusing the call). A start is never
retried: orq.ai has no idempotency keys, and a second POST would start a second task.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus

from ...core.errors import BackendError, RunbridgeError, StreamError
from ...core.models import Gate
from ...http import HttpClient, iter_messages, segment
from .._runlog import BROKEN, stream_problem
from .._runlog import RunLog as GenericRunLog
from .events import LOST_TYPE, TIMEOUT, EventMapper
from .wire import as_dict, task_of

__all__ = ["LOST", "RunLog", "TaskStreams"]

RunLog = GenericRunLog[EventMapper]
NewLog = Callable[[str], RunLog]
"""Make (and register) the log of a task by its id."""

_SSE = {"Accept": "text/event-stream"}
_DONE = "[DONE]"
_NEVER = "\0never"  # no JSON event ends a stream: `data: [DONE]` does
_UNFINISHED = "it closed without data: [DONE]"
LOST = (
    "orq.ai cannot re-attach to a task's stream; runbridge reads the task's state instead (runs_get, runs_watch), "
    "which shows its end but not the steps in between."
)

_logger = logging.getLogger("runbridge.orq")


def _parse(data: str) -> dict[str, Any] | None:
    try:
        doc = json.loads(data)
    except ValueError:
        _logger.warning("skipped an event that is not JSON (%d bytes)", len(data))
        return None
    return as_dict(doc) or None


def response_path(agent_key: str, task_id: str) -> str:
    return f"/v2/agents/{segment(agent_key)}/responses/{segment(task_id)}"


def state_events(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """A task read with `GET .../responses/{task_id}` as the stream events that would have ended it (none while it
    is `in_progress`)."""
    status = doc.get("status")
    if status == "failed":
        return [{"type": "event.agents.errored", "data": {"error": str(doc.get("error") or "The task failed.")}}]
    if status != "completed":
        return []
    texts = [
        str(as_dict(p).get("text"))
        for m in doc.get("output") or []
        for p in as_dict(m).get("parts") or []
        if as_dict(p).get("kind") == "text"
    ]
    data: dict[str, Any] = {"last_message": "\n".join(texts), "finish_reason": doc.get("finish_reason") or "stop"}
    if doc.get("pending_tool_calls"):
        data["pending_tool_calls"] = doc["pending_tool_calls"]
    if doc.get("usage"):
        data["usage"] = doc["usage"]
    return [{"type": "event.agents.inactive", "timestamp": doc.get("created_at"), "data": data}]


class TaskStreams:
    """The background readers of one profile's tasks."""

    def __init__(self, http: HttpClient, tasks: TaskGroup | None, *, poll_seconds: float) -> None:
        self.http = http
        self.tasks = tasks
        self.poll_seconds = poll_seconds

    def _group(self) -> TaskGroup:
        if self.tasks is None:
            raise RunbridgeError(
                "This orq.ai adapter was built without a task group, so it cannot follow a task in the background."
            )
        return self.tasks

    # -- starting --------------------------------------------------------------------------------------------------

    async def start(self, path: str, body: dict[str, Any], new_log: NewLog, *, action: str) -> RunLog:
        """POST a streamed call and return the task's log once the stream named the task."""
        log: RunLog = await self._group().start(self._read_start, path, body, new_log, action)
        return log

    async def _read_start(
        self, path: str, body: dict[str, Any], new_log: NewLog, action: str, *, task_status: TaskStatus[RunLog]
    ) -> None:
        log: RunLog | None = None
        done = False
        try:
            async with self.http.stream("POST", path, action=action, json=body, headers=_SSE) as response:
                async for message in iter_messages(response):
                    if message.data.strip() == _DONE:
                        done = True
                        break
                    raw = _parse(message.data)
                    if raw is None:
                        continue
                    if log is None:
                        log = self._announced(raw, new_log)
                        if log is None:
                            continue
                        log.mapper.begin_stream()
                        log.begin_stream()
                        task_status.started(log)
                    log.take(raw)
            if log is None:
                raise StreamError("orq.ai's event stream ended before it named the task.")
            await self._after_stream(log, None if done else _UNFINISHED)
        except BROKEN as exc:
            if log is not None:
                await self._after_stream(log, stream_problem(exc))
            elif isinstance(exc, RunbridgeError) and not isinstance(exc, StreamError):
                raise  # orq.ai refused the call (401, 404, ...): the caller gets the error itself
            else:
                raise StreamError(
                    f"Could not {action}: its event stream broke before it named the task ({stream_problem(exc)}). The "
                    "task may have started on orq.ai anyway: check there before calling the agent again."
                ) from None
        except Exception as exc:
            if log is None:
                raise
            _logger.error("a bug stopped reading the stream of task %s", log.run_id, exc_info=exc)
            log.stream_ended(f"runbridge failed reading it ({type(exc).__name__}, an internal error)")

    def _announced(self, raw: dict[str, Any], new_log: NewLog) -> RunLog | None:
        """The log of the task the stream's first events name; an error before that is the call's failure."""
        data = as_dict(raw.get("data"))
        task_id = data.get("agent_task_id") or data.get("taskId")
        if isinstance(task_id, str) and task_id:
            return new_log(task_id)
        if raw.get("type") in ("agents.error", "event.agents.errored", "response.failed"):
            raise BackendError(f"orq.ai refused the call: {data.get('error') or 'no reason given'}", backend="orq")
        return None

    async def _after_stream(self, log: RunLog, problem: str | None = None) -> None:
        """A stream of the task is over (`[DONE]`, or `problem`: it broke). Unless the task ended or waits for tool
        results, it goes on on orq.ai (a stream that timed out, a connection that broke, a review pending): its state
        is read until it ends. Only when that fails too is the log broken."""
        if log.ended or (log.open_gate is not None and log.open_gate.resolvable):
            log.stream_ended()
            return
        if problem is not None or not (log.events and log.events[-1].raw_type == TIMEOUT):
            why = problem or "it ended before the task did"
            log.take({"type": LOST_TYPE, "data": {"message": f"the stream stopped ({why})"}})
        try:
            await self._poll(log)
        except BROKEN as exc:
            log.stream_ended(
                f"{problem or 'the stream stopped'}; reading the task's state failed too: {stream_problem(exc)}"
            )
            return
        log.stream_ended()

    async def start_polled(self, log: RunLog) -> None:
        """Read a task's state in the background until it ends or waits for tool results (no stream shows it)."""
        await self._group().start(self._poll_task, log)

    async def _poll_task(self, log: RunLog, *, task_status: TaskStatus[None]) -> None:
        log.begin_stream()
        task_status.started()
        try:
            await self._poll(log)
            log.stream_ended()
        except BROKEN as exc:
            log.stream_ended(stream_problem(exc))
        except Exception as exc:
            _logger.error("a bug stopped reading the state of task %s", log.run_id, exc_info=exc)
            log.stream_ended(f"runbridge failed reading it ({type(exc).__name__}, an internal error)")

    async def _poll(self, log: RunLog) -> None:
        path = response_path(log.mapper.agent_key, task_of(log.run_id))
        while True:
            doc = as_dict(await self.http.json("GET", path, action="read the task's state"))
            events = state_events(doc)
            if events:
                for raw in events:
                    log.take(raw)
                return
            await anyio.sleep(self.poll_seconds)

    # -- continuing ------------------------------------------------------------------------------------------------

    async def resume(self, log: RunLog, gate: Gate, path: str, body: dict[str, Any]) -> None:
        """POST the continuation on a new stream; returns once orq.ai accepted it, the stream is read into the log."""
        await self._group().start(self._read_resume, log, gate, path, body)

    async def _read_resume(
        self, log: RunLog, gate: Gate, path: str, body: dict[str, Any], *, task_status: TaskStatus[None]
    ) -> None:
        accepted = False
        try:
            async with self.http.stream("POST", path, action="continue the task", json=body, headers=_SSE) as resp:
                log.resumed(gate)  # before any of the new stream's events
                log.mapper.begin_stream()
                log.begin_stream()
                accepted = True
                task_status.started()
                done = False
                async for message in iter_messages(resp):
                    if message.data.strip() == _DONE:
                        done = True
                        break
                    raw = _parse(message.data)
                    if raw is not None:
                        log.take(raw)
            await self._after_stream(log, None if done else _UNFINISHED)
        except BROKEN as exc:
            if not accepted:
                raise
            await self._after_stream(log, stream_problem(exc))
        except Exception as exc:
            if not accepted:
                raise
            _logger.error("a bug stopped reading the continued stream of task %s", log.run_id, exc_info=exc)
            log.stream_ended(f"runbridge failed reading it ({type(exc).__name__}, an internal error)")


def new_log_maker(
    logs: dict[str, RunLog], agent_key: str, *, base: int = 0, run_id: str | None = None
) -> Callable[[str], RunLog]:
    """A maker of run logs for tasks of `agent_key`, registered in `logs` under their run ids as the tasks are named:
    the task id, or `run_id` (a later turn of a task, followed as a run of its own)."""

    def make(task_id: str) -> RunLog:
        rid = run_id or task_id
        log = logs[rid] = RunLog(
            rid, EventMapper(agent_key, rid), target_id=agent_key, base=base, ends_with=_NEVER, lost=LOST
        )
        return log

    return make
