"""The domain model every backend is translated into (docs/architecture.md).

Adapters speak only these types to the rest of runbridge; the bridge and the tools never see a backend's wire
shapes. Everything here is plain pydantic: no MCP, no HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

from .errors import CursorError

__all__ = [
    "TERMINAL_STATUSES",
    "EventKind",
    "Gate",
    "GateAnswer",
    "GateField",
    "GateKind",
    "Page",
    "Run",
    "RunEvent",
    "RunStatus",
    "StartRequest",
    "StepRef",
    "Target",
    "Usage",
    "utc_now",
]


def utc_now() -> datetime:
    return datetime.now(UTC)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class RunStatus(StrEnum):
    """A run's status on every backend. `waiting`: a gate waits for a human; `paused`: an operator paused it."""

    # Each adapter maps its backend's own statuses onto these; a status it does not know is `unknown`, which
    # clients treat as terminal.

    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED, RunStatus.CANCELLED})


class EventKind(StrEnum):
    """Normalised event kinds: every backend event maps onto one (each docs/backends/<family>.md says how)."""

    RUN_STARTED = "run.started"
    STEP_STARTED = "step.started"
    STEP_COMPLETED = "step.completed"
    STEP_FAILED = "step.failed"
    MESSAGE_DELTA = "message.delta"
    MESSAGE = "message"
    REASONING = "reasoning"
    TOOL_CALLED = "tool.called"
    TOOL_RESULT = "tool.result"
    DECISION = "decision"
    GATE_OPENED = "gate.opened"
    GATE_RESOLVED = "gate.resolved"
    USAGE = "usage"
    ARTIFACT = "artifact"
    LOG = "log"
    RUN_PAUSED = "run.paused"
    RUN_RESUMED = "run.resumed"
    RUN_COMPLETED = "run.completed"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"

    @property
    def terminal(self) -> bool:
        return self in (EventKind.RUN_COMPLETED, EventKind.RUN_FAILED, EventKind.RUN_CANCELLED)

    @property
    def terminal_status(self) -> RunStatus | None:
        return {
            EventKind.RUN_COMPLETED: RunStatus.COMPLETED,
            EventKind.RUN_FAILED: RunStatus.FAILED,
            EventKind.RUN_CANCELLED: RunStatus.CANCELLED,
        }.get(self)


class StepRef(_Model):
    """Which step of a run an event belongs to; `index`/`total` are 1-based where the backend knows them."""

    id: str | None = None
    name: str | None = None
    index: int | None = None
    total: int | None = None


class Usage(_Model):
    """Tokens and cost, summed where several reports arrive."""

    input_tokens: int = 0
    output_tokens: int = 0
    total_tokens: int = 0
    cost_usd: float | None = None
    turns: int | None = None

    def __add__(self, other: Usage) -> Usage:
        cost = (
            None if self.cost_usd is None and other.cost_usd is None else (self.cost_usd or 0) + (other.cost_usd or 0)
        )
        turns = None if self.turns is None and other.turns is None else (self.turns or 0) + (other.turns or 0)
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            total_tokens=self.total_tokens + other.total_tokens,
            cost_usd=cost,
            turns=turns,
        )


GateKind = Literal["approval", "input", "clarification", "auth", "tool_approval", "tool_result", "external", "custom"]
FieldType = Literal["select", "multiselect", "text", "boolean", "number", "integer", "json"]


class GateField(_Model):
    """One thing the human is asked for; rendered as an elicitation property."""

    name: str
    type: FieldType = "text"
    label: str | None = None
    description: str | None = None
    options: list[str] | None = None
    option_labels: list[str] | None = None
    required: bool = False
    default: Any = None


class Gate(_Model):
    """A point where a run waits for a human decision (an approval, a question, a sign-in)."""

    # Each adapter maps its backend's gates onto this model (docs/backends/<family>.md says how). `resume` is the
    # adapter's own note of how to answer (ids, paths, the original payload): opaque to the bridge, never shown to
    # the model.

    gate_id: str
    profile: str = ""
    run_id: str
    kind: GateKind
    prompt: str
    fields: list[GateField] = Field(default_factory=list)
    context: dict[str, Any] = Field(default_factory=dict)
    step: StepRef | None = None
    redirect_url: str | None = None
    expires_at: datetime | None = None
    resolvable: bool = True
    opened_at: datetime = Field(default_factory=utc_now)
    resume: dict[str, Any] = Field(default_factory=dict, exclude=True)


class GateAnswer(_Model):
    """The human's answer: accept with values, or decline (the adapter maps decline to the backend's reject)."""

    decision: Literal["accept", "decline"]
    values: dict[str, Any] = Field(default_factory=dict)


class RunEvent(_Model):
    """The normalised envelope of one backend event.

    `seq` is the resumable cursor (the backend's sequence or SSE id, else a local counter); `text` is a short
    human-readable summary; `data` is the raw payload, kept for `runs_events`. `note` is what the backend says for
    the person or model along with the event (a quota running low, the agent's warnings): a terminal event's note
    becomes the note of the run's result. `gate_id` is the gate a gate event is about: a `gate.opened` carries the
    whole `gate` (and its id here), a `gate.resolved` the id of the gate it says was decided.
    """

    kind: EventKind
    raw_type: str
    seq: str
    run_id: str
    ts: datetime = Field(default_factory=utc_now)
    step: StepRef | None = None
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict)
    gate: Gate | None = None
    usage: Usage | None = None
    note: str | None = None
    gate_id: str | None = None
    from_status: bool = False  # made from the run's status: the stream could not deliver the run's own end

    @model_validator(mode="after")
    def _gate_named(self) -> RunEvent:
        if self.gate is not None and self.gate_id is None:
            self.gate_id = self.gate.gate_id
        return self

    @property
    def terminal(self) -> bool:
        return self.kind.terminal


class Target(_Model):
    """Something that can be run: a workflow, orchestration or agent."""

    id: str
    name: str | None = None
    kind: Literal["workflow", "orchestration", "agent", "thread"] = "workflow"
    description: str | None = None
    steps: list[StepRef] | None = None
    step_count: int | None = None
    input_schema: dict[str, Any] | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class StartRequest(_Model):
    """What a caller asks of `RunsAPI.start_run`. The idempotency key is minted by the bridge, once per call."""

    target_id: str
    inputs: dict[str, Any] = Field(default_factory=dict)
    message: str | None = None
    idempotency_key: str | None = None
    tags: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


class Run(_Model):
    """A run as the backend (or runbridge's registry) last saw it."""

    run_id: str
    target_id: str | None = None
    status: RunStatus = RunStatus.UNKNOWN
    raw_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    outputs: Any = None
    error: str | None = None
    error_code: str | None = None
    usage: Usage | None = None
    current_step: StepRef | None = None
    open_gate: Gate | None = None
    parent_run_id: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)
    # What the adapter needs to find this run again in another process (its events URL, its thread id): opaque to the
    # bridge, which stores it with the run and hands it back (`RunLocatorAPI`); never shown, nor in any schema.
    locator: SkipJsonSchema[dict[str, str]] | None = Field(default=None, exclude=True)


class HostInfo(_Model):
    """What a backend says about itself (OpenWOP: its discovery document; orchagent: `/meta`), for `runbridge doctor`.

    `available` is False when the host publishes nothing (or could not be asked); `note` says why. `capabilities`
    are the features the host advertises, which an adapter may use as hints but never as the last word.
    `protocol_versions` are every protocol version the host names; `wire_version` is the one runbridge speaks to it.
    `server` is the host's own name and version, `deprecations` what it says it will stop doing. `foreign` says why
    the address does not look like a host of the profile's family (or not its API root), when something does.
    """

    available: bool = False
    server: str | None = None
    deprecations: list[str] = Field(default_factory=list)
    foreign: str | None = None
    protocol_version: str | None = None
    protocol_versions: list[str] = Field(default_factory=list)
    wire_version: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    limits: dict[str, int] = Field(default_factory=dict)
    note: str | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is opaque and absent on the last page."""

    items: list[T]
    next_cursor: str | None = None
    total: int | None = None

    @classmethod
    def of(cls, items: Sequence[T], next_cursor: str | None = None, total: int | None = None) -> Page[T]:
        return cls(items=list(items), next_cursor=next_cursor, total=total)

    @staticmethod
    def start_of(cursor: str | None, *, size: int | None = None) -> int:
        """The offset an offset cursor stands for (none or empty: 0). A cursor that is not an offset, or one past
        the end of a list of known `size`, raises `CursorError`: starting over silently would repeat the list."""
        if not cursor:
            return 0
        if not cursor.isdigit() or (size is not None and int(cursor) > size):
            raise CursorError(cursor)
        return int(cursor)
