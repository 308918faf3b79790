"""Runs of the LangGraph sandbox (docs/backends/langgraph.md): a run executes its graph from the thread's head
checkpoint (or the one it names), step by step, writing a checkpoint after each and its events to its stream, until
the graph ends, a node interrupts, it fails, or it is cancelled. As on the Agent Server: a run that stops at an
interrupt is `success` and its thread `interrupted`; a resume of a thread with nothing pending runs and changes
nothing; runs of one thread wait for each other (`enqueue`)."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import anyio

from ..context import SandboxContext
from .graphs import GRAPHS, NO_ANSWER, Graph, Interrupt
from .state import Checkpoint, LgRun, LgThread, interrupt_id, new_id, now, task_id

__all__ = ["ASSISTANT_NS", "LangGraphState", "assistant_id"]

ASSISTANT_NS = uuid.UUID("6e0b9a4c-8a7f-5f6e-9c1d-2b3a4c5d6e7f")


def assistant_id(graph: str) -> str:
    return str(uuid.uuid5(ASSISTANT_NS, graph))


class LangGraphState:
    """Every thread and run of one sandbox server."""

    def __init__(self, ctx: SandboxContext) -> None:
        self.ctx = ctx
        self.threads: dict[str, LgThread] = {}
        self.assistants = {assistant_id(name): name for name in GRAPHS}

    def graph_of(self, assistant: str) -> tuple[str, Graph] | None:
        name = self.assistants.get(assistant) or (assistant if assistant in GRAPHS else None)
        return (assistant_id(name), GRAPHS[name]) if name else None

    def create_run(self, thread: LgThread, assistant: str, graph: Graph, body: dict[str, Any]) -> LgRun:
        run = LgRun(
            run_id=new_id(),
            thread_id=thread.thread_id,
            assistant_id=assistant,
            graph=graph.name,
            kwargs={"input": body.get("input"), "command": body.get("command"), "stream_mode": body.get("stream_mode")},
            metadata={"graph_id": graph.name, "assistant_id": assistant, **(body.get("metadata") or {})},
        )
        thread.runs.append(run)
        self.ctx.stats.incr("runs_created")
        self.ctx.engine.start_soon(self._execute, thread, run, graph, body, name=f"langgraph run {run.run_id}")
        return run

    async def _execute(self, thread: LgThread, run: LgRun, graph: Graph, body: dict[str, Any]) -> None:
        async with thread.lock:
            if run.cancelled:
                self._end(thread, run, "interrupted")
                return
            run.status, thread.status = "running", "busy"
            run.log.add("metadata", {"run_id": run.run_id, "attempt": 1})
            try:
                with anyio.CancelScope() as scope:
                    run.cancel = scope
                    await self._steps(thread, run, graph, body)
                if scope.cancelled_caught:
                    thread.pending = []
                    self._end(thread, run, "interrupted", thread_status="interrupted")
                    return
            except Exception as exc:  # a node that raises fails the run, as the server's does
                thread.error = {"error": type(exc).__name__, "message": str(exc)}
                run.log.add("error", {"error": type(exc).__name__, "message": str(exc)})
                self._end(thread, run, "error", thread_status="error")
                return
            self._end(thread, run, "success", thread_status="interrupted" if thread.pending else "idle")

    def _end(self, thread: LgThread, run: LgRun, status: str, *, thread_status: str | None = None) -> None:
        run.status, run.updated_at = status, now()
        if thread_status is not None:
            thread.status, thread.updated_at = thread_status, now()
        run.log.close()

    def _checkpoint(self, thread: LgThread, run: LgRun, values: dict[str, Any], nxt: list[str], source: str) -> None:
        head = thread.head
        point = Checkpoint(
            checkpoint_id=new_id(),
            values=copy.deepcopy(values),
            next=nxt,
            step=head.step + 1 if head else -1,
            run_id=run.run_id,
            source=source,
            parent=head.checkpoint_id if head else None,
        )
        thread.checkpoints.append(point)
        config = {"configurable": {"checkpoint_id": point.checkpoint_id, "thread_id": thread.thread_id}}
        run.log.add("checkpoints", {"config": config, "values": point.values, "metadata": {"step": point.step}})

    def _start_point(self, thread: LgThread, run: LgRun, graph: Graph, body: dict[str, Any]) -> Checkpoint | None:
        """Where the run starts: a named checkpoint (replayed from there), or the head; a new input starts over."""
        named = body.get("checkpoint_id") or (body.get("checkpoint") or {}).get("checkpoint_id")
        if named:
            found = next((c for c in thread.checkpoints if c.checkpoint_id == named), None)
            if found is None:
                raise ValueError(f"checkpoint {named} not found")
            fork = copy.deepcopy(found)  # the history goes on from it, its nodes all to run again
            fork.done = {}
            thread.checkpoints.append(fork)
            thread.pending = []
            return thread.head
        if body.get("input") is not None:
            values = {**thread.values, **body["input"]}
            thread.pending = []
            self._checkpoint(thread, run, values, graph.after(values, []), "input")
            return thread.head
        return thread.head

    async def _steps(self, thread: LgThread, run: LgRun, graph: Graph, body: dict[str, Any]) -> None:
        command = body.get("command") or {}
        resume: Any = command.get("resume", NO_ANSWER) if isinstance(command, dict) else NO_ANSWER
        if body.get("input") is None and not body.get("checkpoint_id") and not thread.pending:
            return  # nothing to resume: the run changes nothing (the real server answers so too)
        point = self._start_point(thread, run, graph, body)
        while point is not None and point.next:
            answers = self._answers(thread, resume)
            resume = NO_ANSWER
            values = copy.deepcopy(point.values)
            done = copy.deepcopy(point.done)
            raised: list[dict[str, Any]] = []
            todo = [n for n in point.next if n not in done]
            for node in todo:  # the nodes of a step start together, as the server announces them
                task = task_id(point.checkpoint_id, node)
                run.log.add("tasks", {"id": task, "name": node, "input": values, "triggers": [f"branch:to:{node}"]})
            for node in todo:
                task = task_id(point.checkpoint_id, node)
                iid = interrupt_id(point.checkpoint_id, node)

                def write(data: Any) -> None:
                    run.log.add("custom", data)

                try:
                    result = await graph.nodes[node](values, answers.get(iid, NO_ANSWER), write)
                except Interrupt as stop:
                    item = {"value": stop.value, "id": iid, "response_schema": stop.schema}
                    raised.append({**item, "node": node})
                    run.log.add("tasks", {"id": task, "name": node, "error": None, "result": {}, "interrupts": [item]})
                    continue
                for text in result.messages:
                    message = {"content": text, "type": "ai", "id": new_id(), "tool_calls": []}
                    _stream_message(run, message, {"langgraph_node": node})
                    result.update.setdefault("messages", []).append(message)
                done[node] = result.update
                run.log.add("updates", {node: result.update})
                run.log.add(
                    "tasks", {"id": task, "name": node, "error": None, "result": result.update, "interrupts": []}
                )
            if raised:
                point.done = done  # finished nodes keep their writes; the interrupted ones run again on resume
                thread.pending = raised
                run.log.add("updates", {"__interrupt__": [{k: v for k, v in i.items() if k != "node"} for i in raised]})
                return
            for update in done.values():
                for key, value in update.items():
                    if key in graph.appends or key == "messages":
                        values[key] = [*values.get(key, []), *value]
                    else:
                        values[key] = value
            thread.pending = []
            self._checkpoint(thread, run, values, graph.after(values, list(point.next)), "loop")
            point = thread.head

    @staticmethod
    def _answers(thread: LgThread, resume: Any) -> dict[str, Any]:
        """The resume value for each pending interrupt: by id, or one value for the only one."""
        if resume is NO_ANSWER:
            return {}
        ids = [i["id"] for i in thread.pending]
        if isinstance(resume, dict) and resume and set(resume) <= set(ids):
            return dict(resume)
        return {ids[0]: resume} if len(ids) == 1 else {}


def _stream_message(run: LgRun, message: dict[str, Any], meta: dict[str, Any]) -> None:
    """A message a node produced, as the Agent Server streams it: `messages-tuple` mode sends `messages` events of
    `[message, metadata]`; `messages` mode sends `messages/metadata` (`{id: {"metadata": ...}}`) once per message,
    then `messages/complete` with `[message]` (a model's streamed tokens would come as `messages/partial`, each with
    the message so far; the sandbox's nodes return whole messages)."""
    asked = run.kwargs.get("stream_mode")
    modes = [asked] if isinstance(asked, str) else list(asked or ["messages-tuple"])
    if "messages-tuple" in modes:
        run.log.add("messages", [message, meta])
    elif "messages" in modes:
        run.log.add("messages/metadata", {message["id"]: {"metadata": meta}})
        run.log.add("messages/complete", [message])
