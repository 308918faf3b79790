"""The LangGraph sandbox's threads, runs, checkpoints and event logs (docs/backends/langgraph.md), as the Agent
Server keeps them in memory: a run's stream is kept for rejoins, with ids `<milliseconds>-0` that events of the
same millisecond share (as the real in-memory server's do)."""

from __future__ import annotations

import copy
import hashlib
import itertools
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio

__all__ = ["Checkpoint", "EventLog", "LgRun", "LgThread", "new_id", "now"]

_counter = itertools.count()


def now() -> str:
    return datetime.now(UTC).isoformat()


def new_id() -> str:
    """A time-ordered id in UUID form (as the server's uuid7 ids sort by creation)."""
    ms = time.time_ns() // 1_000_000
    n = next(_counter) % 0xFFFF
    tail = uuid.uuid4().hex
    return f"{ms >> 16:08x}-{ms & 0xFFFF:04x}-7{n:03x}-{tail[:4]}-{tail[4:16]}"


class EventLog:
    """A run's stream: every event kept (for rejoins), and who waits for the next."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, Any]] = []  # (id, event type, data)
        self.closed = False
        self._changed = anyio.Event()

    def add(self, event: str, data: Any) -> None:
        self.events.append((f"{time.time_ns() // 1_000_000}-0", event, data))
        self._wake()

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    async def wait(self) -> None:
        await self._changed.wait()


@dataclass
class Checkpoint:
    checkpoint_id: str
    values: dict[str, Any]
    next: list[str]
    step: int
    run_id: str | None
    source: str
    parent: str | None
    done: dict[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])  # writes of finished nodes
    created_at: str = field(default_factory=now)

    def doc(self, thread_id: str) -> dict[str, Any]:
        return {
            "values": self.values,
            "next": list(self.next),
            "tasks": [{"id": task_id(self.checkpoint_id, n), "name": n} for n in self.next],
            "metadata": {"step": self.step, "run_id": self.run_id, "source": self.source},
            "created_at": self.created_at,
            "checkpoint": {"checkpoint_id": self.checkpoint_id, "thread_id": thread_id, "checkpoint_ns": ""},
            "parent_checkpoint": None
            if self.parent is None
            else {"checkpoint_id": self.parent, "thread_id": thread_id, "checkpoint_ns": ""},
        }


def task_id(checkpoint_id: str, node: str) -> str:
    digest = hashlib.sha256(f"{checkpoint_id}:{node}".encode()).hexdigest()
    return str(uuid.UUID(digest[:32]))


def interrupt_id(checkpoint_id: str, node: str) -> str:
    """Stable for a node at a checkpoint: the same interrupt again when the node runs again from there."""
    return hashlib.sha256(f"interrupt:{checkpoint_id}:{node}".encode()).hexdigest()[:32]


@dataclass
class LgRun:
    run_id: str
    thread_id: str
    assistant_id: str
    graph: str
    kwargs: dict[str, Any]
    metadata: dict[str, Any]
    status: str = "pending"
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    log: EventLog = field(default_factory=EventLog)
    cancel: anyio.CancelScope | None = None
    cancelled: bool = False

    def doc(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "thread_id": self.thread_id,
            "assistant_id": self.assistant_id,
            "status": self.status,
            "metadata": self.metadata,
            "kwargs": self.kwargs,
            "multitask_strategy": "enqueue",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass
class LgThread:
    thread_id: str
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    status: str = "idle"
    checkpoints: list[Checkpoint] = field(default_factory=list[Checkpoint])  # oldest first
    pending: list[dict[str, Any]] = field(default_factory=list[dict[str, Any]])  # {id, value, response_schema, node}
    runs: list[LgRun] = field(default_factory=list[LgRun])
    error: dict[str, Any] | None = None
    lock: anyio.Lock = field(default_factory=anyio.Lock)  # one run at a time ("enqueue")
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)

    @property
    def head(self) -> Checkpoint | None:
        return self.checkpoints[-1] if self.checkpoints else None

    @property
    def values(self) -> dict[str, Any]:
        return self.head.values if self.head else {}

    def interrupts_by_task(self) -> dict[str, list[dict[str, Any]]]:
        head = self.head
        found: dict[str, list[dict[str, Any]]] = {}
        for item in self.pending:
            key = task_id(head.checkpoint_id if head else "", item["node"])
            found.setdefault(key, []).append({k: v for k, v in item.items() if k != "node"})
        return found

    def doc(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "metadata": self.metadata,
            "status": self.status,
            "values": self.values or None,
            "interrupts": self.interrupts_by_task(),
            "error": self.error,
        }

    def state(self) -> dict[str, Any]:
        head = self.head
        base = head.doc(self.thread_id) if head else {"values": {}, "next": [], "tasks": [], "metadata": {}}
        tasks = []
        for name in base["next"]:
            mine = [{k: v for k, v in i.items() if k != "node"} for i in self.pending if i["node"] == name]
            tasks.append({"id": task_id(head.checkpoint_id if head else "", name), "name": name, "interrupts": mine})
        base["tasks"] = tasks
        base["interrupts"] = [{k: v for k, v in i.items() if k != "node"} for i in self.pending]
        return base

    def copied(self, thread_id: str) -> LgThread:
        return LgThread(
            thread_id=thread_id,
            metadata=copy.deepcopy(self.metadata),
            status=self.status if self.status != "busy" else "idle",
            checkpoints=copy.deepcopy(self.checkpoints),
            pending=copy.deepcopy(self.pending),
        )
