"""The orq.ai adapter (docs/backends/orq.md): agents as targets and as the `agents` toolset, agent tasks as runs,
client tool calls and tool reviews as gates, usage and billing from inactive events.

A run is one orq.ai task (its id is the task id), from the call that starts it until it is inactive with an answer,
across every continuation: a task that waits for client tool results is continued on the same task (`task_id`) on
a new stream, which this adapter reads into the same run. How a call is executed (`endpoint`, per call or the
profile's `options.endpoint`):

* `stream-task` (default): `POST /v2/agents/{key}/stream-task`, read in the background;
* `task`: `POST /v2/agents/{key}/task` (not blocking), then the task's state read until it ends;
* `responses`: `POST /v2/agents/{key}/responses` with `stream: true`, read in the background;
* `stream-run` / `run`: the same with the agent's configuration inline (`options.agent`), which creates the agent
  or reuses its version.

orq.ai marks all of these deprecated; the adapter keeps the same runs and gates whichever endpoint it uses. It has
no cancel and no way to submit a tool review (docs/backends/orq.md says what that means).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, Literal

from anyio.abc import TaskGroup

from ...core.agents import Agent, AgentCallRequest, AgentScope
from ...core.config import Profile
from ...core.errors import (
    BackendError,
    BackendTimeoutError,
    ConflictError,
    GateError,
    InputError,
    NotFoundError,
    UnsupportedError,
)
from ...core.models import Gate, GateAnswer, Page, Run, RunEvent, RunStatus, StartRequest, Target
from ...core.protocols import EventPage
from ...http import HttpClient, segment
from .._runlog import follow_log, log_page
from .crud import AgentsCrud
from .events import EventMapper
from .gates import tool_results
from .spec import OrqOptions
from .streams import RunLog, TaskStreams, new_log_maker, response_path, state_events
from .wire import as_dict, call_body, task_of, tool_message, user_message

__all__ = ["OrqBackend"]

_ENDPOINTS = ("stream-task", "task", "responses", "stream-run", "run")
_STATES = {"in_progress": RunStatus.RUNNING, "completed": RunStatus.COMPLETED, "failed": RunStatus.FAILED}


def _stream_profile(profile: Profile) -> Profile:
    # A stream waits on people (tool reviews) with no keep-alive promised; orq.ai's stream_timeout_seconds bounds it.
    if "stream_read_timeout" in profile.model_fields_set:
        return profile
    return profile.model_copy(update={"stream_read_timeout": None})


class OrqBackend:
    """Implements `TargetsAPI`, `RunsAPI`, `GatesAPI`, `AgentsAPI` and `AgentCallAPI` for one orq.ai workspace."""

    family = "orq"

    def __init__(self, profile: Profile, http: HttpClient | None = None, *, tasks: TaskGroup | None = None) -> None:
        self.profile = profile
        self.options = profile.typed_options(OrqOptions)
        self.http = http or HttpClient(_stream_profile(profile))
        self.crud = AgentsCrud(self.http, profile.base_url)
        self.streams = TaskStreams(self.http, tasks, poll_seconds=self.options.poll_seconds)
        self._logs: dict[str, RunLog] = {}
        self._agents: dict[str, str] = {}  # task id -> agent key, for tasks seen in this process

    async def aclose(self) -> None:
        await self.http.aclose()

    # -- agents (AgentsAPI) -----------------------------------------------------------------------------------

    async def list_agents(
        self,
        *,
        cursor: str | None = None,
        limit: int = 50,
        search: str | None = None,
        sort: str | None = None,
        tags: Sequence[str] | None = None,
        scope: AgentScope | None = None,
    ) -> Page[Agent]:
        return await self.crud.list_agents(cursor=cursor, limit=limit, search=search, sort=sort, tags=tags, scope=scope)

    async def get_agent(self, agent_id: str) -> Agent:
        return await self.crud.get_agent(agent_id)

    async def create_agent(self, spec: Mapping[str, Any]) -> Agent:
        return await self.crud.create_agent(spec)

    async def update_agent(self, agent_id: str, changes: Mapping[str, Any]) -> Agent:
        return await self.crud.update_agent(agent_id, changes)

    async def delete_preview(self, agent_id: str) -> str | None:
        return await self.crud.delete_preview(agent_id)

    async def delete_agent(self, agent_id: str, *, all_versions: bool = False) -> None:
        await self.crud.delete_agent(agent_id, all_versions=all_versions)

    async def register_a2a_agent(self, spec: Mapping[str, Any]) -> Agent:
        return await self.crud.register_a2a(spec)

    async def refresh_agent_card(self, agent_key: str) -> Agent:
        return await self.crud.refresh_card(agent_key)

    # -- targets (TargetsAPI): the workspace's agents ---------------------------------------------------------

    async def list_targets(self, *, cursor: str | None = None, limit: int = 50) -> Page[Target]:
        page = await self.crud.list_agents(cursor=cursor, limit=limit)
        return Page[Target].of([self._target(a) for a in page.items], page.next_cursor)

    async def describe_target(self, target_id: str) -> Target:
        return self._target(await self.crud.get_agent(target_id))

    @staticmethod
    def _target(agent: Agent) -> Target:
        schema = {"type": "object", "properties": {"message": {"type": "string", "description": "What to ask."}}}
        return Target(
            id=agent.id, name=agent.name, kind="agent", description=agent.description, input_schema=schema,
            details=agent.details,
        )  # fmt: skip

    # -- calls (AgentCallAPI, RunsAPI) -------------------------------------------------------------------------

    async def call_agent(self, request: AgentCallRequest) -> Run:
        """`message` (and `options.files`) make the A2A message; `input` becomes the agent's `variables`."""
        if request.version:
            raise UnsupportedError("orq.ai runs an agent's current version: call without `version`.")
        options = dict(request.options)
        if request.input:
            options["variables"] = {**as_dict(options.get("variables")), **request.input}
        endpoint = request.endpoint or self.options.endpoint
        if request.stream is False and endpoint == "stream-task":
            endpoint = "task"
        return await self._call(request.agent_id, request.message, options, endpoint)

    async def start_run(self, request: StartRequest) -> Run:
        """`target_id` is the agent key; the message (or `inputs["message"]`) is the user's text, other inputs are
        the agent's `variables`."""
        inputs = dict(request.inputs)
        message = request.message if request.message is not None else inputs.pop("message", None)
        if message is not None and not isinstance(message, str):
            raise InputError("`message` must be text.")
        options = {"variables": inputs} if inputs else {}
        return await self._call(request.target_id, message, options, self.options.endpoint)

    async def _call(self, agent_key: str, text: str | None, options: dict[str, Any], endpoint: str) -> Run:
        if endpoint not in _ENDPOINTS:
            raise InputError(f"orq.ai agents are called through {', '.join(_ENDPOINTS)}; not {endpoint!r}.")
        inline = as_dict(options.pop("agent", None))
        message = user_message(text, options.pop("files", None))
        if options.get("task_id") and endpoint in ("run", "stream-run"):
            raise InputError("A task is continued through stream-task, task or responses, not run.")
        if inline and endpoint not in ("run", "stream-run"):
            raise InputError("options.agent (an inline configuration) is for the run and stream-run endpoints.")
        body = call_body(
            message,
            options,
            defaults=self.options.defaults,
            stream_timeout=self.options.stream_timeout_seconds,
            streamed=endpoint in ("stream-task", "stream-run"),
        )
        # A later turn of a task (`task_id`) is a run of its own: the task's earlier turns are runs that ended.
        turn = f"{body['task_id']}~{uuid.uuid4().hex[:8]}" if body.get("task_id") else None
        new_log = new_log_maker(self._logs, agent_key, run_id=turn)
        what = f"call agent {agent_key!r}"
        try:
            if endpoint in ("run", "stream-run"):
                if not inline:
                    raise InputError(f"{endpoint} takes the agent's configuration inline: pass it as options.agent.")
                body = {**inline, **body, "key": agent_key}
            if endpoint in ("stream-task", "stream-run"):
                path = (
                    "/v2/agents/stream-run"
                    if endpoint == "stream-run"
                    else f"/v2/agents/{segment(agent_key)}/stream-task"
                )
                log = await self.streams.start(path, body, new_log, action=what)
            elif endpoint == "responses":
                path = f"/v2/agents/{segment(agent_key)}/responses"
                log = await self.streams.start(path, {**body, "stream": True}, new_log, action=what)
            else:
                path = "/v2/agents/run" if endpoint == "run" else f"/v2/agents/{segment(agent_key)}/task"
                if endpoint == "task":  # `run` has no configuration: it never blocks
                    body["configuration"] = {"blocking": False}
                task = as_dict(await self.http.json("POST", path, action=what, json=body))
                task_id = str(task.get("id") or "")
                if not task_id:
                    raise BackendError("orq.ai accepted the task but returned no id.", backend=self.family)
                log = new_log(task_id)
                log.mapper.begin_stream()
                log.take({"type": "agents.execution_started", "data": {"agent_task_id": task_id}})
                await self.streams.start_polled(log)
        except NotFoundError as exc:
            task = f", or no task {body['task_id']!r} of it" if body.get("task_id") else ""
            exc.message = f"No agent with key {agent_key!r}{task} on {self.profile.base_url} (agents_list shows them)."
            raise
        self._agents[log.run_id] = agent_key
        run = self._run_of(log)
        return run.model_copy(update={"locator": {"agent_key": agent_key}})

    def locate_run(self, run_id: str, locator: Mapping[str, str]) -> None:
        """A run's locator (`RunLocatorAPI`): its agent key, which the task endpoints need."""
        if locator.get("agent_key"):
            self._agents.setdefault(run_id, locator["agent_key"])

    def _run_of(self, log: RunLog) -> Run:
        status = log.status
        if log.broken and not log.streaming and not status.terminal:
            status = RunStatus.UNKNOWN
        details: dict[str, Any] = {
            "agent_key": log.mapper.agent_key,
            "events": len(log.events),
            "stream": "lost" if log.broken else "open" if log.streaming else "closed",
        }
        if log.mapper.name:
            details["title"] = log.mapper.name
        return Run(
            run_id=log.run_id,
            target_id=log.target_id,
            status=status,
            raw_status="inactive" if status is RunStatus.WAITING or status.terminal else "active",
            outputs=log.outputs,
            error=str(as_dict(log.error).get("message")) if isinstance(log.error, dict) else log.error,
            usage=log.mapper.usage,
            open_gate=log.open_gate if status is RunStatus.WAITING else None,  # a review decided in orq.ai is behind it
            details=details,
            locator={"agent_key": log.mapper.agent_key},
        )

    async def get_run(self, run_id: str) -> Run:
        """From the task's events where runbridge reads them; otherwise orq.ai's own state of the task."""
        log = self._logs.get(run_id)
        if log is not None and not (log.broken and not log.streaming):
            return self._run_of(log)
        agent_key = self._agents.get(run_id) or (log.mapper.agent_key if log else None)
        if not agent_key:
            return Run(
                run_id=run_id,
                status=RunStatus.UNKNOWN,
                details={"source": "none: orq.ai reads a task by its agent's key, which runbridge does not know"},
            )
        path = response_path(agent_key, task_of(run_id))
        doc = as_dict(await self.http.json("GET", path, action=f"read task {task_of(run_id)!r}"))
        status = _STATES.get(str(doc.get("status")), RunStatus.UNKNOWN)
        outputs = None
        open_gate = None
        mapper = EventMapper(agent_key, run_id)
        for raw in state_events(doc):
            for event in mapper.feed(raw, ""):
                if event.gate is not None:
                    status, open_gate = RunStatus.WAITING, event.gate
                outputs = event.data.get("outputs", outputs)
        return Run(
            run_id=run_id,
            target_id=agent_key,
            status=status,
            raw_status=str(doc.get("status") or ""),
            outputs=outputs,
            error=str(doc["error"]) if doc.get("error") else None,
            usage=mapper.usage,  # the last turn's tokens: this answer has no billing
            open_gate=open_gate,
            details={"source": "orq.ai's state of the task", "agent_key": agent_key},
            locator={"agent_key": agent_key},
        )

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        log = self._logs.get(run_id)
        if log is None:
            log = await self._adopt(run_id, cursor)
        async for event in follow_log(log, cursor):
            yield event

    async def _adopt(self, run_id: str, cursor: str | None) -> RunLog:
        """A task this process has no stream of (started before a restart): its state, read until it ends."""
        agent_key = self._agents.get(run_id)
        if not agent_key:
            raise UnsupportedError(
                f"runbridge does not know which agent task {run_id!r} belongs to, and orq.ai reads a task only by "
                "its agent's key."
            )
        base = int(cursor) if cursor and cursor.isdigit() else 0
        log = new_log_maker(self._logs, agent_key, base=base)(run_id)
        log.mapper.begin_stream()
        await self.streams.start_polled(log)
        return log

    async def event_page(self, run_id: str, *, cursor: str | None = None) -> EventPage | None:
        log = self._logs.get(run_id)
        return None if log is None else log_page(log, cursor)

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        raise UnsupportedError(
            "orq.ai has no way to cancel an agent task: it ends by itself (an agent's max_execution_time bounds it). "
            "A task waiting for tool results simply stays inactive if nobody answers."
        )

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        del action, run
        return False

    # -- gates (GatesAPI) ------------------------------------------------------------------------------------

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]:
        """Client tool results go back on the same task, on a new stream followed as the same run. Reviews are
        decided in orq.ai only (their gates are not resolvable)."""
        results = tool_results(gate, answer)
        if results is None:
            return {"resolved": False}
        agent_key = str(gate.resume.get("agent_key") or self._agents.get(gate.run_id) or "")
        log = self._logs.get(gate.run_id)
        if log is None:  # answered after a restart: the continuation's stream goes into a new log
            seq = gate.resume.get("seq")
            base = int(seq) if isinstance(seq, str) and seq.isdigit() else 0
            log = new_log_maker(self._logs, agent_key, base=base)(gate.run_id)
            log.mapper.streams = 1
            log.open_gate = gate
        if log.ended or gate.gate_id in log.answered or (log.open_gate and log.open_gate.gate_id != gate.gate_id):
            raise GateError("The task no longer waits for these tool results.", closed=True)
        log.answered.add(gate.gate_id)
        body = call_body(
            tool_message(results),
            {"task_id": task_of(gate.run_id)},
            defaults={},
            stream_timeout=self.options.stream_timeout_seconds,
            streamed=True,
        )
        try:
            await self.streams.resume(log, gate, f"/v2/agents/{segment(agent_key)}/stream-task", body)
        except BackendTimeoutError:
            raise  # orq.ai may have taken it: never sent twice
        except NotFoundError:
            raise GateError("The task no longer exists on orq.ai.", closed=True) from None
        except ConflictError:
            log.answered.discard(gate.gate_id)
            raise GateError(
                "orq.ai says the task is still active: answer again once it waits for the results."
            ) from None
        except BaseException:
            log.answered.discard(gate.gate_id)
            raise
        return {"resolved": True}
