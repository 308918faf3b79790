"""Checking a human's answer against the gate that asked, in the engine's neutral answer shapes.

Wire families first translate their resume bodies into these shapes:

* approval, tool_approval: a mapping with `action` (one of the gate's `actions`) and optional `feedback`;
* clarification: a mapping with `answers`, itself a mapping of question id to answer (every question answered);
* input: a mapping of field name to value (required fields present, `options` respected);
* external, custom, auth: any JSON value.

The outcome names what happens next: `reject` fails the run, `refine` re-opens the gate, anything else continues.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from .errors import GateValidationError
from .model import GateSpec

__all__ = ["REJECT_ACTIONS", "check_answer"]

REJECT_ACTIONS = frozenset({"reject", "deny"})


def check_answer(spec: GateSpec, value: Any) -> tuple[Any, str]:
    """The normalised answer and its outcome; GateValidationError when it does not fit."""
    match spec.kind:
        case "approval" | "tool_approval":
            return _approval(spec, value)
        case "clarification":
            return _clarification(spec, value)
        case "input":
            return _input(spec, value), "submitted"
        case _:
            return value, "resolved"


def _mapping(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise GateValidationError(f"{what} must be an object.")
    return cast(Mapping[str, Any], value)


def _approval(spec: GateSpec, value: Any) -> tuple[Any, str]:
    answer = _mapping(value, "An approval answer")
    action = answer.get("action")
    if not isinstance(action, str) or action not in spec.actions:
        raise GateValidationError(f"action must be one of {list(spec.actions)}, got {action!r}.")
    feedback = answer.get("feedback")
    if feedback is not None and not isinstance(feedback, str):
        raise GateValidationError("feedback must be a string.")
    outcome = "reject" if action in REJECT_ACTIONS else action
    return dict(answer), outcome


def _clarification(spec: GateSpec, value: Any) -> tuple[Any, str]:
    answers = _mapping(_mapping(value, "A clarification answer").get("answers"), "answers")
    missing = [q.id for q in spec.questions if q.id not in answers]
    if missing:
        raise GateValidationError(f"Missing answers for: {', '.join(missing)}.")
    unknown = sorted(set(answers) - {q.id for q in spec.questions})
    if unknown:
        raise GateValidationError(f"Unknown question ids: {', '.join(unknown)}.")
    return {"answers": dict(answers)}, "answered"


def _input(spec: GateSpec, value: Any) -> dict[str, Any]:
    values = _mapping(value, "An input answer")
    for f in spec.fields:
        if f.name not in values:
            if f.required:
                raise GateValidationError(f"The field {f.name!r} is required.")
            continue
        if f.options and values[f.name] not in f.options:
            raise GateValidationError(f"{f.name} must be one of {list(f.options)}.")
    return dict(values)
