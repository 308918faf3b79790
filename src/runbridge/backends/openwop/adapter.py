"""The OpenWOP adapter: discovery, workflows, runs, the event stream (or poll), interrupts and forks
(docs/backends/openwop.md)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import anyio

from ...core.config import Profile
from ...core.errors import (
    BackendError,
    InputError,
    NotFoundError,
    RunbridgeError,
    TransportError,
    UnsupportedError,
)
from ...core.models import Gate, GateAnswer, HostInfo, Page, Run, RunEvent, StartRequest, StepRef, Target
from ...core.protocols import EventPage
from ...http import DEFAULT_MAX_EVENT_BYTES, HttpClient, segment
from .._wire import parse_time
from .discovery import Discovery, read_discovery
from .events import EventMapper
from .forks import fork_refused, last_seq, may_be_refusal, needs_seq
from .gates import gate_from_interrupt, has_question
from .interrupts import Resolver
from .lifecycle import not_found_hint, settled, start_body
from .resume import resume_value
from .stream import (
    Ended,
    StreamUnavailable,
    WatchState,
    closing_event,
    event_cursor,
    poll_events,
    poll_page,
    stream_events,
)
from .versions import Wire, choose_version, pinned_version
from .wire import RawEvent, resolve_link, run_status
from .workflows import Workflows

__all__ = ["OpenWopBackend"]

log = logging.getLogger("runbridge.openwop")


class OpenWopBackend:
    """Implements `TargetsAPI`, `RunsAPI`, `GatesAPI` and `ForkAPI` for one OpenWOP host."""

    family = "openwop"
    coded_errors = True  # every OpenWOP error is the closed envelope with its code: one without came from elsewhere

    def __init__(self, profile: Profile, http: HttpClient | None = None) -> None:
        self.profile = profile
        self.http = http or HttpClient(profile)
        self._pinned = pinned_version(profile)
        self._wire: Wire | None = None  # the protocol version spoken, chosen from discovery on the first request
        self._discovery_lock = anyio.Lock()  # the first requests may all need it at once: one of them asks
        self._events_url: dict[str, str] = {}
        self._run_targets: dict[str, str] = {}
        self._workflows = Workflows(self._call, profile.workflows)
        self._forks: bool | None = None  # whether this host forks runs: known once a fork was answered
        self._discovery: Discovery | None = None
        self._no_stream: str | None = None  # why this host serves no event stream, once a poll proved the way round
        self._no_poll = False  # the host answered the poll endpoint with "no such endpoint"
        self._resolver = Resolver(self._call, self.get_run)
        # A long poll must answer within the read timeout; the protocol allows 1..60 s.
        self._poll_wait = int(max(1, min(30, profile.read_timeout // 2)))

    async def aclose(self) -> None:
        await self.http.aclose()

    async def discovery(self) -> Discovery:
        """The host's discovery document, read once (an unreachable host is asked again next time)."""
        if self._discovery is None:
            async with self._discovery_lock:
                if self._discovery is None:
                    try:
                        headers = Wire(self._pinned).headers if self._pinned else {}
                        self._discovery = await read_discovery(self.http, headers)
                    except TransportError as exc:
                        return Discovery(note=f"the host could not be asked ({exc})")
        return self._discovery

    async def wire(self) -> Wire:
        """The protocol version spoken to this host (see `versions`): chosen once discovery has been read; while
        the host cannot be reached, v1 (or the pinned version) is tried and discovery is asked again next time."""
        if self._wire is None:
            chosen = Wire(choose_version(await self.discovery(), self._pinned, self.profile))
            if self._discovery is None:
                return chosen
            if self._wire is None:
                log.info("speaking OpenWOP %s to %s", chosen.label, self.profile.base_url)
            self._wire = chosen
        return self._wire

    async def host_info(self) -> HostInfo:
        info = (await self.discovery()).host_info()
        return info.model_copy(update={"wire_version": (await self.wire()).label})

    def _link(self, run_id: str, doc: dict[str, Any]) -> None:
        """Remember the run's `eventsUrl`, when it is one to follow (see `resolve_link`)."""
        link = resolve_link(self.profile.base_url, doc.get("eventsUrl"))
        if link is not None:
            self._events_url[run_id] = link

    def _locator(self, run_id: str) -> dict[str, str] | None:
        found = {"events_url": self._events_url.get(run_id), "workflow_id": self._run_targets.get(run_id)}
        return {k: v for k, v in found.items() if v} or None

    def locate_run(self, run_id: str, locator: Mapping[str, str]) -> None:
        """A run's locator (`RunLocatorAPI`): its `eventsUrl` (checked again, as when the host gave it), workflow."""
        self._link(run_id, {"eventsUrl": locator.get("events_url")})
        if locator.get("workflow_id"):
            self._run_targets.setdefault(run_id, locator["workflow_id"])

    async def _call(self, method: str, path: str, *, action: str, mutation: bool = False, **kwargs: Any) -> Any:
        wire = await self.wire()
        headers = dict(wire.headers)
        headers.update(kwargs.pop("headers", {}))
        if mutation:
            headers.setdefault("Idempotency-Key", str(uuid.uuid4()))
        return await self.http.json(
            method, wire.prefix + path, action=action, headers=headers, retry=mutation or None, **kwargs
        )

    # -- targets ------------------------------------------------------------------------------------------------

    async def list_targets(self, *, cursor: str | None = None, limit: int = 50) -> Page[Target]:
        """OpenWOP has no workflow list: the profile names its workflow ids, described when the host can."""
        ids = self.profile.workflows
        start = Page[Target].start_of(cursor, size=len(ids))
        chosen = ids[start : start + limit]
        targets: list[Target] = []
        for workflow_id in chosen:
            try:
                targets.append(await self._workflows.describe(workflow_id))
            except NotFoundError:
                targets.append(Target(id=workflow_id, description="(the host does not know this workflow id)"))
        more = start + limit < len(ids)
        return Page[Target].of(targets, str(start + limit) if more else None, total=len(ids))

    async def describe_target(self, target_id: str) -> Target:
        try:
            return await self._workflows.describe(target_id)
        except NotFoundError as exc:
            raise not_found_hint(exc, "workflow") from None

    # -- runs ---------------------------------------------------------------------------------------------------

    async def start_run(self, request: StartRequest) -> Run:
        key = request.idempotency_key or str(uuid.uuid4())
        body = start_body(request)
        try:
            doc = await self._call(
                "POST", "/runs", action="start the run", mutation=True, json=body, headers={"Idempotency-Key": key}
            )
        except NotFoundError as exc:
            raise not_found_hint(exc, "workflow") from None
        run_id = str(doc.get("runId", ""))
        if not run_id:
            raise BackendError("The host accepted the run but returned no runId", backend=self.family)
        self._link(run_id, doc)
        self._run_targets[run_id] = request.target_id
        return Run(
            run_id=run_id,
            target_id=request.target_id,
            status=run_status(doc.get("status")),
            raw_status=str(doc.get("status")),
            locator=self._locator(run_id),
        )

    async def get_run(self, run_id: str) -> Run:
        try:
            doc = await self._call("GET", f"/runs/{segment(run_id)}", action="get the run")
        except NotFoundError as exc:
            raise not_found_hint(exc, "run") from None
        doc = doc if isinstance(doc, dict) else {}
        if doc.get("workflowId"):
            workflow_id = self._run_targets.setdefault(run_id, str(doc["workflowId"]))
            if doc.get("currentNodeId") and self._workflows.cached(workflow_id) is None:
                with contextlib.suppress(RunbridgeError):  # the step's label, once per workflow (else its id)
                    await self._workflows.describe(workflow_id)
        return self._run_from_snapshot(doc, run_id)

    def _step(self, run_id: str, node_id: str) -> StepRef:
        """A node of the run's workflow, by its label where the workflow was described (names, never ids)."""
        workflow = self._workflows.cached(self._run_targets.get(run_id, ""))
        for step in (workflow.steps if workflow else None) or []:
            if step.id == node_id:
                return step.model_copy(update={"total": workflow.step_count if workflow else None})
        return StepRef(id=node_id, name=node_id)

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
            current_step=self._step(run_id, str(node)) if node else None,
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
            raise not_found_hint(exc, "run") from None
        run = Run(
            run_id=run_id,
            status=run_status(doc.get("status") if isinstance(doc, dict) else None),
            raw_status=str(doc.get("status")) if isinstance(doc, dict) else None,
        )
        # Hosts answer `cancelling` and end the run a moment later: report what the host then says, not the request.
        return run if run.status.terminal else await settled(self.get_run, run_id, run)

    async def fork_run(self, run_id: str, *, from_seq: int | None = None, mode: str = "branch") -> Run:
        """Fork even when discovery says no: real hosts lie (docs/backends/openwop.md); the answer decides (see
        `forks`)."""
        body: dict[str, Any] = {"mode": mode}
        if from_seq is not None:
            body["fromSeq"] = from_seq
        path = f"/runs/{segment(run_id)}:fork"
        try:
            try:
                doc = await self._call("POST", path, action="fork the run", mutation=True, json=body)
            except BackendError as exc:
                if from_seq is not None or not needs_seq(exc):
                    raise
                # This host forks only from a given event: "from the end" is the run's last event.
                body["fromSeq"] = await last_seq(self._call, segment(run_id), v2=(await self.wire()).version == 2)
                doc = await self._call("POST", path, action="fork the run", mutation=True, json=body)
        except BackendError as exc:
            if exc.code == "fork_from_seq_unsupported":
                raise InputError(f"This host can {mode} a run only from sequence 0.") from None
            if not may_be_refusal(exc):
                raise not_found_hint(exc, "run") if isinstance(exc, NotFoundError) else exc from None
            if isinstance(exc, NotFoundError) and not await self._exists(run_id):
                raise not_found_hint(exc, "run") from None
            says = (await self.discovery()).says("replay", "fork")
            self._forks = False
            raise fork_refused(exc, run_id=run_id, discovery_says=says) from None
        self._forks = True
        new_id = str(doc.get("runId", ""))
        self._link(new_id, doc)
        if run_id in self._run_targets:
            self._run_targets.setdefault(new_id, self._run_targets[run_id])
        status = run_status(doc.get("status"))
        raw = str(doc.get("status"))
        return Run(run_id=new_id, status=status, parent_run_id=run_id, raw_status=raw, locator=self._locator(new_id))

    # -- events -------------------------------------------------------------------------------------------------

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        """The run's events from the SSE stream; from the poll endpoint when the host (or a proxy in front of it)
        will not stream them. Either way every event once, in order, continuing from the same sequence."""
        state = WatchState(last_seq=event_cursor(cursor))
        target, found = await self._prepare(run_id)
        wire = await self.wire()
        mapper = EventMapper(run_id, steps=target.steps if target else None)
        try:
            if self._no_stream is None:
                try:
                    async for raw in self._stream(run_id, state, found, wire):
                        yield await self._mapped(mapper, raw)
                    return
                except StreamUnavailable as exc:
                    log.info("cannot stream events (%s); polling instead", exc.reason)
            try:
                async for raw in poll_events(
                    self._call, self.get_run, segment(run_id), state, v2=wire.version == 2, wait_seconds=self._poll_wait
                ):
                    yield await self._mapped(mapper, raw)
            finally:
                if state.polled and self._no_stream is None:
                    self._no_stream = "the host did not stream events; the poll works"
        except Ended as ended:
            yield closing_event(ended.run, str(state.last_seq) if state.last_seq is not None else cursor)
        except NotFoundError as exc:
            if state.polled or exc.code == "run_not_found" or not await self._exists(run_id):
                raise not_found_hint(exc, "run") from None
            raise UnsupportedError(
                "This host serves the run's events neither as a stream nor through the poll endpoint, so runbridge "
                "cannot follow it. runs_get shows its status."
            ) from None

    async def event_page(self, run_id: str, *, cursor: str | None = None) -> EventPage | None:
        """The run's events after `cursor` from one poll (within a second when there are none); None when the host
        has no poll endpoint, and they are read from the stream (`watch`)."""
        last_seq = event_cursor(cursor)
        target, found = await self._prepare(run_id)
        # v1 says `eventPoll: false`; v2 says it in the `eventLog` capability record (`poll: false`).
        if self._no_poll or False in (found.says("eventPoll"), found.says("eventLog", "poll")):
            return None
        v2 = (await self.wire()).version == 2
        try:
            raws, complete = await poll_page(self._call, segment(run_id), last_seq, v2=v2, wait_seconds=1)
        except NotFoundError as exc:
            if exc.code == "run_not_found" or not await self._exists(run_id):
                raise not_found_hint(exc, "run") from None
            self._no_poll = True  # the endpoint, not the run
            return None
        mapper = EventMapper(run_id, steps=target.steps if target else None)
        return EventPage(events=[await self._mapped(mapper, raw) for raw in raws], complete=complete)

    async def _exists(self, run_id: str) -> bool:
        """Whether the host knows the run (a 404 from an events endpoint may mean the endpoint, not the run)."""
        try:
            await self.get_run(run_id)
        except NotFoundError:
            return False
        return True

    def _stream(self, run_id: str, state: WatchState, found: Discovery, wire: Wire) -> AsyncIterator[RawEvent]:
        path = self._events_url.get(run_id) or f"{wire.prefix}/runs/{segment(run_id)}/events"
        limit = found.max_event_bytes or DEFAULT_MAX_EVENT_BYTES
        return stream_events(self.http, self.get_run, run_id, path, wire.headers, state, max_event_bytes=limit)

    async def _mapped(self, mapper: EventMapper, raw: RawEvent) -> RunEvent:
        """`raw` as a RunEvent; a gate whose event does not say what it asks is filled in (see `Resolver.describe`)."""
        event = mapper.map(raw)
        if event.step is None and mapper.step_total:  # the total from the start, so progress never outgrows it
            event = event.model_copy(update={"step": StepRef(total=mapper.step_total)})
        if event.gate is None or has_question(raw.payload):
            return event
        filled = await self._resolver.describe(event.gate, raw.payload, raw.node_id)
        if filled is None:
            return event
        return event.model_copy(update={"gate": filled, "text": f"waiting for a human: {filled.prompt}"})

    async def _prepare(self, run_id: str) -> tuple[Target | None, Discovery]:
        """The run's workflow and the host's discovery document, asked side by side: both are cached after the first
        watch, and a first page of `runs_events` should not wait for two round trips before its first event."""
        found: list[Discovery] = []
        targets: list[Target | None] = []

        async def read_discovery() -> None:
            found.append(await self.discovery())

        async def read_target() -> None:
            targets.append(await self._target_for(run_id))

        async with anyio.create_task_group() as tg:
            tg.start_soon(read_discovery)
            tg.start_soon(read_target)
        return targets[0], found[0]

    async def _target_for(self, run_id: str) -> Target | None:
        """The run's workflow, for step names and the step total in progress messages (best effort)."""
        try:
            if run_id not in self._run_targets:
                await self.get_run(run_id)  # a run this process did not start (a restart, a fork): learn its workflow
            workflow_id = self._run_targets.get(run_id)
            return await self._workflows.describe(workflow_id) if workflow_id else None
        except RunbridgeError:
            return None

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        """Cancel: any run not over. Fork: only where this host is known to fork (a fork it answered, or its
        discovery document saying so), since hosts without it are common and `next` must not send the model there."""
        if action == "cancel":
            return not run.status.terminal
        if self._forks is not None:
            return self._forks
        return self._discovery is not None and self._discovery.says("replay", "fork") is True

    # -- gates --------------------------------------------------------------------------------------------------

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]:
        """Run-scoped by node id; with the interrupt's token when the key may not (403) or there is no node id."""
        value = resume_value(gate, answer)
        if value is None:
            return {"resolved": False}
        outcome = await self._resolver.resolve(gate, value)
        if isinstance(value, dict) and value.get("action") == "reject" and answer.decision == "accept":
            outcome["decision"] = "rejected"
        return outcome
