"""The LangGraph adapter (docs/backends/langgraph.md): assistants as targets, a thread per run, a run and its
resumes as one run, `interrupt()` values as gates, forks from a checkpoint, threads.

* **Runs.** `runs_start` creates a thread (its id derived from the call's idempotency key, so a retried call
  creates it once) and a run on it with a resumable stream that goes on if runbridge disconnects. The run's id is
  that first LangGraph run's; the thread is in its locator.
* **Resumes.** An answer is a new run on the thread (`command: {resume: {<interrupt id>: value}}`), tagged with
  `metadata.runbridge_root`, so `watch`, `get_run` and `cancel_run` find the whole chain again from the thread
  alone, in this process or another.
* **Cancel** cancels the chain's active run (`action=interrupt`); a chain that waits on its gates has none, so
  runbridge marks the thread (`metadata.runbridge_cancelled`) and the chain reads as cancelled from then on.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any, Literal

import anyio

from ...core.config import Profile
from ...core.errors import GateError, InputError, NotFoundError, UnsupportedError
from ...core.models import Gate, GateAnswer, HostInfo, Page, Run, RunEvent, RunStatus, StartRequest, Target
from ...core.threads import HistoryItem, SecretRefs, Thread
from ...http import HttpClient, load_secret, segment
from .._wire import parse_time
from .client import Wire
from .forks import checkpoint_at
from .gates import gate_of, resume_value
from .spec import LangGraphOptions
from .stream import ChainWatch
from .wire import ACTIVE, CANCELLED_KEY, ROOT_KEY, as_dict, as_list, ended_status, interrupts_of, target_of

__all__ = ["LangGraphBackend"]

_UUID_NS = uuid.UUID("5b7d8a43-3f0e-4c55-9d35-6f6f2b7a1c10")


class LangGraphBackend:
    """Implements `TargetsAPI`, `RunsAPI`, `GatesAPI`, `ForkAPI` and `ThreadsAPI` for one Agent Server."""

    family = "langgraph"

    def __init__(self, profile: Profile, http: HttpClient | None = None) -> None:
        self.profile = profile
        options = profile.typed_options(LangGraphOptions)
        if http is None:
            header = "x-api-key" if options.auth == "x-api-key" else None
            http = HttpClient(profile, secret=load_secret(profile), secret_header=header)
        self.http = http
        self.wire = Wire(http)
        self._modes = list(dict.fromkeys([*options.stream_modes, "tasks", "checkpoints"]))
        self._poll = options.poll_seconds
        self._threads: dict[str, str] = {}  # root run id -> thread id

    async def aclose(self) -> None:
        await self.http.aclose()

    def locate_run(self, run_id: str, locator: Mapping[str, str]) -> None:
        """A run's locator (`RunLocatorAPI`): its thread, which every route of the server needs."""
        if locator.get("thread_id"):
            self._threads.setdefault(run_id, locator["thread_id"])

    def _thread_of(self, run_id: str) -> str:
        thread_id = self._threads.get(run_id)
        if thread_id is None:
            raise NotFoundError(
                f"runbridge has no record of run {run_id!r} on {self.profile.base_url}: a LangGraph run is found "
                "through its thread, so only runs started or followed through runbridge can be read",
                backend=self.family,
                status=404,
            )
        return thread_id

    async def host_info(self) -> HostInfo:
        doc = await self.wire.obj("GET", "/info", action="read the server's /info", retry=True)
        version = doc.get("version")
        flags = as_dict(doc.get("flags"))
        return HostInfo(
            available=True,
            server=f"LangGraph Agent Server {version}" if version else "LangGraph Agent Server",
            capabilities=sorted(k for k, v in flags.items() if v is True),
        )

    # -- targets ---------------------------------------------------------------------------------------------------

    async def list_targets(self, *, cursor: str | None = None, limit: int = 50) -> Page[Target]:
        offset = Page.start_of(cursor)
        doc = await self.wire.call(
            "POST",
            "/assistants/search",
            action="list the assistants",
            json={"limit": limit + 1, "offset": offset},
            retry=True,  # a search
        )
        found = [target_of(as_dict(a)) for a in as_list(doc)]
        more = len(found) > limit
        return Page.of(found[:limit], next_cursor=str(offset + limit) if more else None)

    async def describe_target(self, target_id: str) -> Target:
        assistant = await self._assistant(target_id)
        aid = str(assistant.get("assistant_id"))
        schemas = await self.wire.obj("GET", f"/assistants/{segment(aid)}/schemas", action="read the graph's schemas")
        return target_of(assistant, schemas)

    async def _assistant(self, target_id: str) -> dict[str, Any]:
        """An assistant by id, or the one serving the graph of that name."""
        try:
            uuid.UUID(target_id)
        except ValueError:
            doc = await self.wire.call(
                "POST",
                "/assistants/search",
                action="find the assistant",
                json={"graph_id": target_id, "limit": 1},
                retry=True,
            )
            found = as_list(doc)
            if not found:
                raise NotFoundError(
                    f"No assistant or graph {target_id!r} on {self.profile.base_url} (targets_list lists them)",
                    backend=self.family,
                    status=404,
                ) from None
            return as_dict(found[0])
        return await self.wire.obj(
            "GET", f"/assistants/{segment(target_id)}", action="read the assistant", what="assistant"
        )

    # -- runs ------------------------------------------------------------------------------------------------------

    def _run_body(self, assistant_id: str, **fields: Any) -> dict[str, Any]:
        return {
            "assistant_id": assistant_id,
            "stream_mode": self._modes,
            "stream_resumable": True,
            "on_disconnect": "continue",
            "multitask_strategy": "enqueue",
            **fields,
        }

    async def start_run(self, request: StartRequest) -> Run:
        key = request.idempotency_key
        thread_id = await self.wire.create_thread(
            thread_id=str(uuid.uuid5(_UUID_NS, key)) if key else None, metadata={"runbridge": True}
        )
        existing = await self.wire.runs(thread_id) if key else []
        if existing:  # this call's thread has its run already (a retried call)
            return self._run(existing[-1], thread_id, target=request.target_id)
        inputs = dict(request.inputs)
        if request.message is not None:
            inputs.setdefault("messages", [])
            inputs["messages"] = [*as_list(inputs["messages"]), {"role": "user", "content": request.message}]
        body = self._run_body(request.target_id, input=inputs, metadata=dict(request.metadata))
        doc = await self.wire.create_run(thread_id, body)
        return self._run(doc, thread_id, target=request.target_id)

    def _run(self, doc: dict[str, Any], thread_id: str, *, target: str | None) -> Run:
        run_id = str(doc["run_id"])
        self._threads[run_id] = thread_id
        return Run(
            run_id=run_id,
            target_id=target or doc.get("assistant_id"),
            status=RunStatus.QUEUED if doc.get("status") == "pending" else RunStatus.RUNNING,
            raw_status=str(doc.get("status")),
            created_at=parse_time(doc.get("created_at")),
            details={"thread_id": thread_id},
            locator={"thread_id": thread_id},
        )

    def _watch_of(self, run_id: str) -> ChainWatch:
        return ChainWatch(self.wire, run_id, self._thread_of(run_id), poll=self._poll)

    async def get_run(self, run_id: str) -> Run:
        watch = self._watch_of(run_id)
        chain = await watch.chain()
        first, last = chain[0], chain[-1]
        run = Run(
            run_id=run_id,
            target_id=str(first.get("assistant_id")),
            raw_status=str(last.get("status")),
            created_at=parse_time(first.get("created_at")),
            updated_at=parse_time(last.get("updated_at")),
            details={"thread_id": watch.thread_id, "runs": len(chain)},
            locator={"thread_id": watch.thread_id},
        )
        status = ended_status(last.get("status"))
        if status is None:
            run.status = RunStatus.QUEUED if len(chain) == 1 and last.get("status") == "pending" else RunStatus.RUNNING
            return run
        if status is not RunStatus.COMPLETED:
            run.status = status
            if status is RunStatus.FAILED:
                run.error = str(as_dict((await self.wire.thread(watch.thread_id)).get("error")).get("message") or "")
            return run
        thread = await self.wire.thread(watch.thread_id)
        if as_dict(thread.get("metadata")).get(CANCELLED_KEY) == run_id:
            run.status = RunStatus.CANCELLED
            return run
        if thread.get("status") == "busy" and await watch.latest(chain):
            run.status = RunStatus.RUNNING  # the server is still writing the thread the run ended on
            return run
        state = await self.wire.state(watch.thread_id)
        pending = interrupts_of(state) if await watch.latest(chain) else []
        if pending:
            run.status = RunStatus.WAITING
            run.open_gate = gate_of(pending[0], run_id=run_id)
        else:
            run.status, run.outputs = RunStatus.COMPLETED, state.get("values")
        return run

    async def watch(self, run_id: str, *, cursor: str | None = None) -> AsyncIterator[RunEvent]:
        async for event in self._watch_of(run_id).events(cursor):
            yield event

    async def cancel_run(self, run_id: str, *, reason: str | None = None) -> Run:
        watch = self._watch_of(run_id)
        chain = await watch.chain()
        stopped = False
        for item in [r for r in chain if r.get("status") in ACTIVE]:
            try:
                await self.wire.cancel(watch.thread_id, str(item["run_id"]))
                stopped = True
            except NotFoundError:
                continue  # it ended, or stopped at an interrupt, between the listing and the cancel (404)
        if not stopped:
            before = await self.get_run(run_id)
            if before.status.terminal:
                return before
            await self.wire.mark_thread(watch.thread_id, {CANCELLED_KEY: run_id})
        run = await self.get_run(run_id)
        for _ in range(50):  # the server takes a moment to record the cancel: up to 5 s
            if run.status.terminal:
                break
            await anyio.sleep(0.1)
            run = await self.get_run(run_id)
        return run

    def offers(self, action: Literal["cancel", "fork"], run: Run) -> bool:
        return action == "fork" or not run.status.terminal

    # -- gates -----------------------------------------------------------------------------------------------------

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]:
        interrupt_id = str(gate.resume.get("interrupt_id") or "")
        value = resume_value(gate, answer)
        watch = self._watch_of(gate.run_id)
        chain = await watch.chain()
        pending = {i.id for i in interrupts_of(await self.wire.state(watch.thread_id))}
        busy = any(r.get("status") in ACTIVE for r in chain)
        if interrupt_id not in pending and not busy:
            raise GateError(
                "The run no longer waits on this gate: its thread has no such pending interrupt (answered "
                "elsewhere, or the run moved on). Nothing was sent; runs_get shows where the run is.",
                closed=True,
            )
        body = self._run_body(
            str(chain[0].get("assistant_id")),
            command={"resume": {interrupt_id: value}},
            metadata={ROOT_KEY: gate.run_id},
        )
        doc = await self.wire.create_run(watch.thread_id, body)
        return {"resolved": True, "resumed_by": doc.get("run_id")}

    # -- forks -----------------------------------------------------------------------------------------------------

    async def fork_run(self, run_id: str, *, from_seq: int | None = None, mode: str = "branch") -> Run:
        """A new run on a copy of the thread, from the checkpoint the run had reached at `from_seq` (default: its
        latest); both modes re-run the graph from there."""
        del mode
        watch = self._watch_of(run_id)
        checkpoint = await checkpoint_at(watch, from_seq)
        chain = await watch.chain()
        copy = await self.wire.copy_thread(watch.thread_id)
        body = self._run_body(str(chain[0].get("assistant_id")), input=None, checkpoint_id=checkpoint)
        body["metadata"] = {"runbridge_fork_of": run_id}
        doc = await self.wire.create_run(copy, body)
        run = self._run(doc, copy, target=str(chain[0].get("assistant_id")))
        run.parent_run_id = run_id
        run.details["checkpoint_id"] = checkpoint
        return run

    # -- threads ---------------------------------------------------------------------------------------------------

    async def create_thread(self, spec: Mapping[str, Any]) -> Thread:
        """`spec`: `{"assistant_id": ..., "metadata": {...}}`; the assistant answers every message on the thread."""
        assistant = spec.get("assistant_id") or spec.get("graph_id")
        if not isinstance(assistant, str) or not assistant:
            raise InputError('A LangGraph thread needs the assistant that answers on it: {"assistant_id": "<id>"}.')
        metadata = {**as_dict(spec.get("metadata")), "assistant_id": assistant}
        thread_id = await self.wire.create_thread(metadata=metadata)
        return Thread(thread_id=thread_id, details={"assistant_id": assistant})

    async def thread_history(self, thread_id: str, *, limit: int = 20) -> list[HistoryItem]:
        state = await self.wire.state(thread_id)
        messages = as_list(as_dict(state.get("values")).get("messages"))
        items: list[HistoryItem] = []
        for raw in messages[-limit:]:
            message = as_dict(raw)
            content = message.get("content")
            role = {"human": "user", "ai": "assistant"}.get(str(message.get("type")), str(message.get("type")))
            items.append(HistoryItem(role=role, content=content if isinstance(content, str) else str(content)))
        return items

    async def send_message(
        self,
        thread_id: str,
        message: str,
        *,
        inputs: Mapping[str, Any] | None = None,
        secrets: SecretRefs | None = None,
    ) -> Run:
        if secrets:
            raise UnsupportedError("A LangGraph run takes no secrets: put them in the server's own environment.")
        thread = await self.wire.thread(thread_id)
        assistant = as_dict(thread.get("metadata")).get("assistant_id")
        if not isinstance(assistant, str):
            raise InputError(f"Thread {thread_id!r} names no assistant: create it with threads_create.")
        body_input = {**dict(inputs or {}), "messages": [{"role": "user", "content": message}]}
        doc = await self.wire.create_run(thread_id, self._run_body(assistant, input=body_input))
        return self._run(doc, thread_id, target=assistant)
