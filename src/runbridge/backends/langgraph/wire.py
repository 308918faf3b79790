"""Reading the Agent Server's wire shapes (docs/backends/langgraph.md): assistants, runs, threads and their pending
interrupts, and runbridge's cursor over a chain of LangGraph runs.

A LangGraph run ends at an `interrupt()` (its status is `success`; the *thread* is `interrupted` with the pending
interrupts), and an answer is a new run on the same thread. runbridge presents the first run and its resumes as one
run: its id is the first LangGraph run's, each resume is created with `metadata.runbridge_root` naming it, and the
cursor says which run of that chain and which event of its stream: `seq = index * CHAIN_STRIDE + position`.
"""

from __future__ import annotations

from typing import Any, cast

from ...core.errors import CursorError
from ...core.models import RunStatus, Target
from .._wire import parse_time

__all__ = [
    "CHAIN_STRIDE",
    "ROOT_KEY",
    "Interrupt",
    "as_dict",
    "chain_of",
    "decode_cursor",
    "encode_seq",
    "interrupts_of",
    "target_of",
]

CHAIN_STRIDE = 1_000_000  # events of one LangGraph run a cursor can count
ROOT_KEY = "runbridge_root"  # run metadata: the first run of the chain this resume belongs to
CANCELLED_KEY = "runbridge_cancelled"  # thread metadata: chains cancelled while they waited on a gate

ACTIVE = frozenset({"pending", "running"})
_ENDED = {"success": RunStatus.COMPLETED, "error": RunStatus.FAILED, "timeout": RunStatus.FAILED}


def as_dict(value: object) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def as_list(value: object) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def encode_seq(index: int, position: int) -> str:
    return str(index * CHAIN_STRIDE + position)


def decode_cursor(cursor: str | None) -> tuple[int, int]:
    """(chain index, position in that run's stream) of a cursor runbridge gave out; none: the very start."""
    if not cursor:
        return 0, 0
    if not cursor.isdigit() or len(cursor) > 15:
        raise CursorError(cursor)
    return divmod(int(cursor), CHAIN_STRIDE)


def ended_status(raw: object) -> RunStatus | None:
    """A finished LangGraph run's status as runbridge's (`interrupted` is a cancel), None while it is active."""
    if raw in ACTIVE:
        return None
    if raw == "interrupted":
        return RunStatus.CANCELLED
    return _ENDED.get(str(raw), RunStatus.UNKNOWN)


def chain_of(root: str, runs: list[Any]) -> list[dict[str, Any]]:
    """The runs of a thread that belong to the chain started by `root`, oldest first."""
    mine = [
        as_dict(r)
        for r in runs
        if as_dict(r).get("run_id") == root or as_dict(as_dict(r).get("metadata")).get(ROOT_KEY) == root
    ]
    return sorted(mine, key=lambda r: (str(r.get("created_at") or ""), str(r.get("run_id"))))


class Interrupt:
    """One pending `interrupt()` of a thread: its id, the node (task) that raised it, its value and schema."""

    def __init__(self, raw: dict[str, Any], node: str | None) -> None:
        self.id = str(raw.get("id") or "")
        self.value: Any = raw.get("value")
        schema = raw.get("response_schema")
        self.schema: dict[str, Any] | None = as_dict(schema) if isinstance(schema, dict) and schema else None
        self.node = node


def interrupts_of(state: dict[str, Any]) -> list[Interrupt]:
    """The pending interrupts of a thread state (`GET /threads/{id}/state`), in task order, each with its node."""
    found: list[Interrupt] = []
    seen: set[str] = set()
    for task in as_list(state.get("tasks")):
        for raw in as_list(as_dict(task).get("interrupts")):
            item = Interrupt(as_dict(raw), as_dict(task).get("name"))
            if item.id and item.id not in seen:
                seen.add(item.id)
                found.append(item)
    for raw in as_list(state.get("interrupts")):  # the top-level list, where tasks did not name them
        item = Interrupt(as_dict(raw), None)
        if item.id and item.id not in seen:
            seen.add(item.id)
            found.append(item)
    return found


def target_of(assistant: dict[str, Any], schemas: dict[str, Any] | None = None) -> Target:
    graph = assistant.get("graph_id")
    name = assistant.get("name") or graph
    description = assistant.get("description")
    input_schema = as_dict((schemas or {}).get("input_schema")) or None
    created = parse_time(assistant.get("created_at"))
    details = {"graph_id": graph, "version": assistant.get("version")}
    if created is not None:
        details["created_at"] = created.isoformat()
    return Target(
        id=str(assistant.get("assistant_id")),
        name=str(name) if name else None,
        kind="agent",
        description=str(description) if description else None,
        input_schema=input_schema,
        details={k: v for k, v in details.items() if v is not None},
    )
