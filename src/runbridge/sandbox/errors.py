"""Why the engine refused a request. Wire families turn these into their own error envelopes and statuses.

```text
EngineError                 base; `code` is a neutral default a family may keep or replace
├── WorkflowNotFound        no workflow with that id
├── RunNotFound             no run with that id
├── RunTerminal             the run already completed or failed (cancel refused)
├── GateNotFound            no gate was ever open at that node
│   └── GateCancelled       the gate's run was cancelled while it waited
├── GateAlreadyResolved     the gate was answered already (or a newer round replaced it)
├── GateValidationError     the answer is outside what the gate accepts
├── ForkInvalid             fromSeq outside the source run's log
└── ForkUnsupported         replay mode from a sequence other than 0
```
"""

from __future__ import annotations

__all__ = [
    "EngineError",
    "ForkInvalid",
    "ForkUnsupported",
    "GateAlreadyResolved",
    "GateCancelled",
    "GateNotFound",
    "GateValidationError",
    "NotPaused",
    "RunNotFound",
    "RunTerminal",
    "WorkflowNotFound",
]


class EngineError(Exception):
    """Base of the engine's refusals; `message` is safe to send to a client."""

    code = "engine_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WorkflowNotFound(EngineError):
    """No workflow with that id."""

    code = "workflow_not_found"


class RunNotFound(EngineError):
    """No run with that id."""

    code = "run_not_found"


class RunTerminal(EngineError):
    """The run already ended."""

    code = "run_terminal"


class GateNotFound(EngineError):
    """No gate is open at that node."""

    code = "interrupt_not_found"


class GateCancelled(GateNotFound):
    """The run was cancelled while the gate waited."""

    code = "interrupt_cancelled"


class GateAlreadyResolved(EngineError):
    """The gate was answered already."""

    code = "interrupt_already_resolved"


class GateValidationError(EngineError):
    """The answer does not fit the gate."""

    code = "validation_error"


class ForkInvalid(EngineError):
    """fromSeq is outside the source run's log."""

    code = "validation_error"


class NotPaused(EngineError):
    """Resume of a run that is not paused."""

    code = "run_not_paused"


class ForkUnsupported(EngineError):
    """The fork mode cannot start at that sequence."""

    code = "fork_from_seq_unsupported"
