"""The OpenWOP adapter: workflows, runs, the event stream, interrupts and forks (reference §5, §7.1)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, aclosing
from dataclasses import dataclass
from typing import Any

import httpx2

from ...core.config import Profile
from ...core.errors import (
    BackendError,
    ConflictError,
    GateError,
    InputError,
    NotFoundError,
    RunbridgeError,
    UnsupportedError,
)
from ...core.models import EventKind, Gate, GateAnswer, Page, Run, RunEvent, StartRequest, StepRef, Target
from ...http import HttpClient, SSEMessage, follow, segment
from .events import EventMapper
from .gates import gate_from_interrupt, resume_value
from .wire import RawEvent, parse_frame, parse_time, run_status

__all__ = ["OpenWopBackend"]


class _Ended(RunbridgeError):
    """Raised inside a reconnect when the run turned out to be over already; carries its snapshot."""

    def __init__(self, run: Run) -> None:
        super().__init__("run already ended")
        self.run = run


def _not_found_hint(exc: NotFoundError, what: str) -> NotFoundError:
    # One real host answers a wrong bearer with an anonymous session, so a 404 may hide bad credentials (§7.1).
    exc.message = f"{exc.message}. No {what} with that id; if it was just created, the credentials may be wrong"
    return exc


class OpenWopBackend:
    """Implements `TargetsAPI`, `RunsAPI`, `GatesAPI` and `ForkAPI` for one OpenWOP host."""

    family = "openwop"

    def __init__(self, profile: Profile, http: HttpClient | None = None) -> None:
        self.profile = profile
        self.http = http or HttpClient(profile)
        version = int(profile.options.get("protocol_version", 1))
        self._prefix = "/v1" if version == 1 else ""
        self._version_headers = {} if version == 1 else {"OpenWOP-Version": "2.0"}
        self._events_url: dict[str, str] = {}
        self._run_targets: dict[str, str] = {}
        self._workflows: dict[str, Target] = {}

    async def aclose(self) -> None:
        await self.http.aclose()

    def _path(self, path: str) -> str:
        return f"{self._prefix}{path}"

    async def _call(self, method: str, path: str, *, action: str, mutation: bool = False, **kwargs: Any) -> Any:
        headers = dict(self._version_headers)
        headers.update(kwargs.pop("headers", {}))
        if mutation:
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        return await self.http.json(
            method, self._path(path), action=action, headers=headers, retry=mutation or None, **kwargs
        )

    # -- targets ------------------------------------------------------------------------------------------------

    async def list_targets(self, *, cursor: str | None = None, limit: int = 50) -> Page[Target]:
        """OpenWOP has no workflow list: the profile names its workflow ids, described when the host knows them."""
        ids = self.profile.workflows
        start = int(cursor) if cursor and cursor.isdigit() else 0
        chosen = ids[start : start + limit]
        targets: list[Target] = []
        for workflow_id in chosen:
            try:
                targets.append(await self.describe_target(workflow_id))
            except NotFoundError:
                targets.append(Target(id=workflow_id, description="(the host does not know this workflow id)"))
        more = start + limit < len(ids)
        return Page[Target].of(targets, str(start + limit) if more else None, total=len(ids))

    async def describe_target(self, target_id: str) -> Target:
        if target_id in self._workflows:
            return self._workflows[target_id]
        try:
            doc = await self._call("GET", f"/workflows/{segment(target_id)}", action=f"describe workflow {target_id!r}")
        except NotFoundError as exc:
            raise _not_found_hint(exc, "workflow") from None
        doc = doc if isinstance(doc, dict) else {}
        nodes = doc.get("nodes") or doc.get("steps") or []
        steps = [
            StepRef(id=str(n.get("id")), name=str(n.get("name") or n.get("label") or n.get("id")), index=i + 1)
            for i, n in enumerate(nodes)
            if isinstance(n, dict) and n.get("id")
        ]
        target = Target(
            id=str(doc.get("workflowId") or doc.get("id") or target_id),
            name=doc.get("name") if isinstance(doc.get("name"), str) else None,
            kind="workflow",
            description=doc.get("description") if isinstance(doc.get("description"), str) else None,
            steps=steps or None,
            step_count=len(steps) or None,
            input_schema=doc.get("inputSchema") if isinstance(doc.get("inputSchema"), dict) else None,
        )
        self._workflows[target_id] = target
        return target

    # -- runs ---------------------------------------------------------------------------------------------------

    async def start_run(self, request: StartRequest) -> Run:
        body: dict[str, Any] = {"workflowId": request.target_id, "inputs": request.inputs}
        if request.message is not None:
            body["inputs"] = {**request.inputs, "message": request.message}
        if request.tags:
            body["tags"] = request.tags
        if request.metadata:
            body["metadata"] = request.metadata
        key = request.idempotency_key or str(uuid.uuid4())
        try:
            doc = await self._call(
                "POST", "/runs", action="start the run", mutation=True, json=body, headers={"Idempotency-Key": key}
            )
        except NotFoundError as exc:
            raise _not_found_hint(exc, "workflow") from None
        run_id = str(doc.get("runId", ""))
        if not run_id:
            raise BackendError("The host accepted the run but returned no runId", backend=self.family)
        events_url = doc.get("eventsUrl")
        if isinstance(events_url, str) and events_url:
            self._events_url[run_id] = events_url
        self._run_targets[run_id] = request.target_id
        return Run(
            run_id=run_id,
            target_id=request.target_id,
            status=run_status(doc.get("status")),
            raw_status=str(doc.get("status")),
        )

    async def get_run(self, run_id: str) -> Run:
        try:
            doc = await self._call("GET", f"/runs/{segment(run_id)}", action="get the run")
        except NotFoundError as exc:
            raise _not_found_hint(exc, "run") from None
        return self._run_from_snapshot(doc if isinstance(doc, dict) else {}, run_id)

    def _run_from_snapshot(self, doc: dict[str, Any], run_id: str) -> Run:
        status = run_status(doc.get("status"))
        error = doc.get("error") if isinstance(doc.get("error"), dict) else None
        interrupt = doc.get("interrupt") if isinstance(doc.get("interrupt"), dict) else None
        node = doc.get("currentNodeId")
        gate = None
        if interrupt is not None and status.value == "waiting":
            gate = gate_from_interrupt(interrupt, run_id=run_id, node_id=str(node) if node else None)
        return Run(
            run_id=str(doc.get("runId") or run_id),
            target_id=str(doc["workflowId"]) if doc.get("workflowId") else None,
            status=status,
            raw_status=str(doc.get("status")),
            created_at=parse_time(doc.get("startedAt")),
            updated_at=parse_time(doc.get("completedAt")),
            outputs=doc.get("outputs") if "outputs" in doc else doc.get("variables") or None,
            error=str(error.get("message")) if error else None,
            error_code=str(error.get("code")) if error and error.get("code") else None,
            current_step=StepRef(id=str(node), name=str(node)) if node else None,
            open_gate=gate,
            parent_run_id=str(doc["parentRunId"]) if doc.get("parentRunId") else None,
        )

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        body = {"reason": reason} if reason else {}
        try:
            doc = await self._call(
                "POST", f"/runs/{segment(run_id)}/cancel", action="cancel the run", mutation=True, json=body
            )
        except NotFoundError as exc:
            raise _not_found_hint(exc, "run") from None
        return Run(
            run_id=run_id,
            status=run_status(doc.get("status") if isinstance(doc, dict) else None),
            raw_status=str(doc.get("status")) if isinstance(doc, dict) else None,
        )

    async def fork_run(self, run_id: str, *, from_seq: int | None = None, mode: str = "branch") -> Run:
        """Fork even when discovery says no: real hosts lie (§7.1); a 404/501 means not supported."""
        body: dict[str, Any] = {"mode": mode}
        if from_seq is not None:
            body["fromSeq"] = from_seq
        try:
            doc = await self._call(
                "POST", f"/runs/{segment(run_id)}:fork", action="fork the run", mutation=True, json=body
            )
        except BackendError as exc:
            if exc.status in (404, 405, 501) and exc.code not in ("run_not_found",):
                if exc.code == "fork_from_seq_unsupported":
                    raise InputError(f"This host can {mode} a run only from sequence 0.") from None
                raise UnsupportedError("This OpenWOP host does not support forking runs.") from None
            raise
        new_id = str(doc.get("runId", ""))
        if isinstance(doc.get("eventsUrl"), str):
            self._events_url[new_id] = doc["eventsUrl"]
        return Run(
            run_id=new_id, status=run_status(doc.get("status")), parent_run_id=run_id, raw_status=str(doc.get("status"))
        )

    # -- events -------------------------------------------------------------------------------------------------

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        target = await self._target_for(run_id)
        mapper = EventMapper(run_id, steps=target.steps if target else None)
        path = self._events_url.get(run_id) or self._path(f"/runs/{segment(run_id)}/events")
        opened = 0
        progress = _WatchProgress()

        def open_stream(last_id: str | None) -> AbstractAsyncContextManager[httpx2.Response]:
            nonlocal opened
            opened += 1
            return self._open_events(run_id, path, last_id, check_ended=opened > 1, progress=progress)

        def decode(message: SSEMessage) -> list[RawEvent]:
            return parse_frame(message.event, message.data, message.id, run_id=run_id)

        last = int(cursor) if cursor and cursor.lstrip("-").isdigit() else None
        stream = follow(
            open_stream,
            decode=decode,
            is_end=lambda e: e.type in ("run.completed", "run.failed", "run.cancelled"),
            seq_of=lambda e: e.seq,
            last_event_id=cursor,
            last_seq=last,
        )
        try:
            async with aclosing(stream):
                async for raw in stream:
                    progress.delivered += 1
                    yield mapper.map(raw)
        except _Ended as ended:
            yield self._closing_event(ended.run, cursor)

    async def _target_for(self, run_id: str) -> Target | None:
        """The run's workflow, for step names and the step total in progress messages (best effort)."""
        workflow_id = self._run_targets.get(run_id)
        if workflow_id is None:
            return None
        try:
            return await self.describe_target(workflow_id)
        except RunbridgeError:
            return None

    def _open_events(
        self, run_id: str, path: str, last_id: str | None, *, check_ended: bool, progress: _WatchProgress
    ) -> AbstractAsyncContextManager[httpx2.Response]:
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache", **self._version_headers}
        if last_id:
            headers["Last-Event-ID"] = last_id
        return _EventsConnection(self, run_id, path, headers, check_ended, progress)

    def _closing_event(self, run: Run, cursor: str | None) -> RunEvent:
        kind = {
            "completed": EventKind.RUN_COMPLETED,
            "failed": EventKind.RUN_FAILED,
        }.get(run.status.value, EventKind.RUN_CANCELLED)
        return RunEvent(
            kind=kind,
            raw_type="state.snapshot",
            seq=cursor or "",
            run_id=run.run_id,
            text=f"run {run.status.value} (read from the run's status after the stream closed)",
            data={"status": run.raw_status, "outputs": run.outputs, "error": run.error},
        )

    # -- gates --------------------------------------------------------------------------------------------------

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]:
        value = resume_value(gate, answer)
        if value is None:
            return {"resolved": False}
        node = gate.resume.get("node_id") or (gate.step.id if gate.step else "")
        try:
            doc = await self._call(
                "POST",
                f"/runs/{segment(gate.run_id)}/interrupts/{segment(str(node))}",
                action="answer the gate",
                mutation=True,
                json={"resumeValue": value},
            )
        except NotFoundError as exc:
            if exc.code in ("run_not_found",):
                raise
            raise GateError(
                "This gate is no longer open: it was already answered, or the run was cancelled.", closed=True
            ) from None
        except ConflictError:
            raise GateError("This gate was already answered.", closed=True) from None
        except BackendError as exc:
            if exc.status in (410, 422) and exc.code in ("interrupt_cancelled", "interrupt_expired"):
                raise GateError(
                    "The run was cancelled or the gate expired; it can no longer be answered.", closed=True
                ) from None
            if exc.status in (400, 422):
                raise GateError(f"The host rejected the answer: {exc.message}") from None
            raise
        return {"resolved": True, "response": doc if isinstance(doc, dict) else {}}


@dataclass
class _WatchProgress:
    """What the connections of one watch share: events delivered, and the run's snapshot once it was seen ended."""

    delivered: int = 0
    ended: Run | None = None
    delivered_when_ended_seen: int = 0


class _EventsConnection:
    """An events connection that, on a reconnect, first checks whether the run already ended.

    A run that ended while the stream was down still has its remaining events, terminal one included, in the log:
    reconnecting (with `Last-Event-ID`) reads them, so none is lost. Only when a connection opened after the end
    brings nothing new (a host that serves nothing past a finished run) does the watch end with the snapshot's
    final status, instead of reconnecting forever.
    """

    def __init__(
        self,
        backend: OpenWopBackend,
        run_id: str,
        path: str,
        headers: dict[str, str],
        check_ended: bool,
        progress: _WatchProgress,
    ) -> None:
        self._backend = backend
        self._run_id = run_id
        self._path = path
        self._headers = headers
        self._check_ended = check_ended
        self._progress = progress
        self._cm: AbstractAsyncContextManager[httpx2.Response] | None = None

    async def __aenter__(self) -> httpx2.Response:
        progress = self._progress
        if progress.ended is not None:
            if progress.delivered == progress.delivered_when_ended_seen:
                raise _Ended(progress.ended)  # the last try after the end brought nothing new: nothing more will come
        elif self._check_ended:
            run = await self._backend.get_run(self._run_id)
            if run.status.terminal:
                progress.ended = run
        progress.delivered_when_ended_seen = progress.delivered
        self._cm = self._backend.http.stream("GET", self._path, action="follow the run's events", headers=self._headers)
        return await self._cm.__aenter__()

    async def __aexit__(self, *exc: object) -> bool | None:
        assert self._cm is not None
        return await self._cm.__aexit__(*exc)  # type: ignore[arg-type]
