"""What a scripted workflow is made of: steps, gates, usage. Plain frozen data, no wire shapes.

A `Workflow` is a straight line of `Step`s. The engine walks them in order; every behaviour a wire family needs to
show (a tool call, token usage, a human gate, a failure) is a property of a step, so a test or a demo builds the
run it needs by listing steps.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["GateField", "GateKind", "GateSpec", "Question", "Step", "StepKind", "StepUsage", "Workflow"]

StepKind = Literal["agent", "tool", "gate", "fail"]
GateKind = Literal["approval", "clarification", "external", "custom", "input", "auth", "tool_approval"]


@dataclass(frozen=True)
class StepUsage:
    """Tokens and cost one step reports (one `usage` event)."""

    input_tokens: int
    output_tokens: int
    cost_usd: float = 0.0
    model: str = "sandbox-1"
    provider: str = "sandbox"


@dataclass(frozen=True)
class Question:
    """One question of a clarification gate."""

    id: str
    question: str


@dataclass(frozen=True)
class GateField:
    """One input of a generic gate (for families whose gates are forms)."""

    name: str
    type: str = "text"
    label: str = ""
    options: tuple[str, ...] = ()
    required: bool = True


@dataclass(frozen=True)
class GateSpec:
    """A human gate: what the run asks for and which answers it accepts.

    `actions` matter for `approval` and `tool_approval` (an answer's action must be one of them; `reject` ends the
    run failed, `refine` re-opens the gate); `questions` for `clarification`; `fields` for `input` and other
    form-like kinds; `event_type` and `correlation` for `external` (a token resolve must repeat the correlation).
    """

    kind: GateKind
    prompt: str = ""
    title: str = ""
    description: str = ""
    actions: tuple[str, ...] = ("accept", "reject", "refine")
    artifact: Mapping[str, Any] | None = None
    artifact_type: str = "document"
    questions: tuple[Question, ...] = ()
    fields: tuple[GateField, ...] = ()
    event_type: str = ""
    correlation: Mapping[str, Any] = field(default_factory=dict[str, Any])
    timeout_ms: int | None = None


@dataclass(frozen=True)
class Step:
    """One step of a workflow.

    `delay` is in seconds at speed 1 (the engine divides by its speed). A `tool` step (or any step with `tool`)
    reports a tool call and its result; `usage` adds a usage event; a `gate` step waits for `gate`; a `fail` step
    ends the run failed with `error_code` / `error_message`.
    """

    id: str
    name: str
    kind: StepKind = "agent"
    delay: float = 0.0
    tool: str | None = None
    tool_args: Mapping[str, Any] = field(default_factory=dict[str, Any])
    tool_result: Any = None
    usage: StepUsage | None = None
    gate: GateSpec | None = None
    output: Any = None
    error_message: str = "The step failed."
    error_code: str = "node_execution_failed"

    def __post_init__(self) -> None:
        if self.kind == "gate" and self.gate is None:
            raise ValueError(f"gate step {self.id!r} needs a GateSpec")


@dataclass(frozen=True)
class Workflow:
    """A named, ordered list of steps; `max_cost_usd` fails the run once its cumulative cost exceeds the limit.

    `listed_in` names the wire families whose catalogue shows it (Synapse's `GET /orchestrations`, the workflows
    the sandbox prints and names in errors): None for every family (a workflow a test or an embedder adds), an
    empty set for none (a benchmark load). Every family still runs any workflow by its id, listed or not.
    """

    id: str
    name: str
    description: str = ""
    steps: tuple[Step, ...] = ()
    max_cost_usd: float | None = None
    result: str = ""
    listed_in: frozenset[str] | None = None

    def __post_init__(self) -> None:
        ids = [s.id for s in self.steps]
        if len(set(ids)) != len(ids):
            raise ValueError(f"workflow {self.id!r} has duplicate step ids")

    def listed(self, family: str) -> bool:
        """Whether `family`'s catalogue shows this workflow."""
        return self.listed_in is None or family in self.listed_in

    def index_of(self, step_id: str) -> int:
        """0-based position of a step; ValueError when absent."""
        for i, step in enumerate(self.steps):
            if step.id == step_id:
                return i
        raise ValueError(step_id)
