"""OpenWOP interrupts as gates (docs/backends/openwop.md).

Hosts put what an interrupt asks in different places: the spec's `data` (`interrupt.requested`, `GET
/interrupts/{token}`), the node's `config` (the SQLite reference host's `node.suspended` events), or a `payload` that
wraps either (that host's run snapshots). `interrupt_data` reads all of them, so a gate shows the host's own title,
description, actions, questions and correlation keys wherever they came from. How an answer goes back is in
`resume`.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from ...core.models import Gate, GateField, GateKind, StepRef, utc_now
from .._wire import parse_time

__all__ = [
    "approvals_text",
    "gate_from_interrupt",
    "gate_id_of",
    "has_question",
    "interrupt_data",
    "interrupt_token",
    "vote_counts",
    "with_votes",
]

_ACTION_LABELS = {
    "accept": "Accept",
    "reject": "Reject",
    "refine": "Ask for changes",
}
_KINDS: dict[str, GateKind] = {
    "approval": "approval",
    "clarification": "clarification",
    "external-event": "external",
    "credential": "auth",
}
_SCALAR_TYPES: dict[str, Any] = {"string": "text", "number": "number", "integer": "integer", "boolean": "boolean"}
NO_QUESTIONS_FIELD = "answers"  # the one field of a clarification whose questions the host did not give


def interrupt_token(payload: dict[str, Any]) -> str | None:
    """The signed token of an interrupt: `interruptToken`, else the last segment of its `callbackUrl`."""
    token = payload.get("interruptToken") or payload.get("token")
    if isinstance(token, str) and token:
        return token
    url = payload.get("callbackUrl")
    if not isinstance(url, str):
        return None
    segments = [s for s in urlsplit(url).path.split("/") if s]
    if len(segments) >= 2 and segments[-2] == "interrupts":
        return unquote(segments[-1])
    return None


def interrupt_data(payload: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """What an interrupt asks, and where the host put it (`data` or `config`; "" when nowhere)."""
    layers = [payload]
    inner = payload.get("payload")
    if isinstance(inner, dict):
        layers.append(cast(dict[str, Any], inner))
    for layer in layers:
        for where in ("data", "config"):
            found = layer.get(where)
            if isinstance(found, dict) and found:
                return cast(dict[str, Any], found), where
    return {}, ""


def has_question(payload: dict[str, Any]) -> bool:
    """Whether an interrupt payload says what it asks (some hosts' events carry only ids and the token)."""
    return bool(interrupt_data(payload)[0])


def _text(value: object) -> str:
    return " ".join(str(value).split()) if isinstance(value, str | int | float) and str(value).strip() else ""


def _title_and_description(data: dict[str, Any]) -> str:
    """The host's own words for a gate: its title, then its description (or prompt, or question)."""
    title = _text(data.get("title"))
    body = _text(data.get("description") or data.get("prompt") or data.get("question"))
    if title and body and body != title:
        return f"{title}\n{body}"
    return title or body


# -- approvals and quorum ----------------------------------------------------------------------------------------


def vote_counts(votes: object) -> tuple[int, int]:
    """(accepts, rejects) in a host's vote ledger (`[{action, voter?, timestamp}]`)."""
    if not isinstance(votes, list):
        return 0, 0
    actions = [str(cast(dict[str, Any], v).get("action")) for v in cast(list[Any], votes) if isinstance(v, dict)]
    return actions.count("accept"), actions.count("reject")


def approvals_text(accepts: int, required: int) -> str:
    return f"{accepts} of {required} approvals"


def with_votes(gate: Gate, votes: object) -> Gate:
    """A quorum gate after a vote: how many approvals it has of how many it needs, in its prompt and context."""
    required = gate.resume.get("required_approvals")
    if not isinstance(required, int):
        return gate
    accepts, rejects = vote_counts(votes)
    base = str(gate.resume.get("prompt_base") or gate.prompt)
    have = approvals_text(accepts, required)
    context = {**gate.context, "approvals": have}
    if rejects:
        context["rejections"] = rejects
    return gate.model_copy(update={"prompt": f"{base}\n({have} so far.)", "context": context})


def _approval(data: dict[str, Any]) -> tuple[list[GateField], str, dict[str, Any], dict[str, Any]]:
    actions = [a for a in data.get("actions") or ["accept", "reject"] if a in _ACTION_LABELS] or ["accept", "reject"]
    fields = [
        GateField(
            name="decision",
            type="select",
            label="Decision",
            options=actions,
            option_labels=[_ACTION_LABELS[a] for a in actions],
            required=True,
            default="accept" if "accept" in actions else None,
        ),
        GateField(name="feedback", type="text", label="Feedback", description="Optional note for the run"),
    ]
    prompt = _title_and_description(data) or "Approve this step?"
    context = {k: data[k] for k in ("artifactType", "artifactData") if data.get(k)}
    notes: dict[str, Any] = {}
    required = data.get("requiredApprovals")
    if isinstance(required, int) and not isinstance(required, bool) and required > 1:
        notes = {"required_approvals": required, "prompt_base": prompt}
        context["approvals"] = approvals_text(0, required)
        prompt = f"{prompt}\n({approvals_text(0, required)} so far.)"
    return fields, prompt, context, notes


# -- clarifications ----------------------------------------------------------------------------------------------


def _question_field(question: dict[str, Any]) -> GateField:
    """One form field for one question: its id, its text, whether it must be answered, and its type."""
    qid = str(question["id"])
    text = _text(question.get("question") or question.get("text") or question.get("prompt") or question.get("label"))
    schema = question.get("schema")
    schema = cast(dict[str, Any], schema) if isinstance(schema, dict) else {}
    options = schema.get("enum") or question.get("options")
    kind = str(schema.get("type") or question.get("type") or question.get("kind") or "string")
    field = GateField(
        name=qid,
        label=text or qid,
        required=question.get("required") is not False and question.get("optional") is not True,
        description=_text(question.get("description") or schema.get("description")) or None,
    )
    if isinstance(options, list) and options:
        values = [str(o) for o in cast(list[Any], options)]
        return field.model_copy(update={"type": "select", "options": values})
    return field.model_copy(update={"type": _SCALAR_TYPES.get(kind, "text")})


def _clarification(data: dict[str, Any], where: str) -> tuple[list[GateField], str, dict[str, Any]]:
    questions = [cast(dict[str, Any], q) for q in data.get("questions") or [] if isinstance(q, dict) and q.get("id")]
    if not questions:
        said = _title_and_description(data)
        prompt = (
            "The run asks for clarification, but the host did not say what its questions are"
            + (f" (it says: {said})" if said else "")
            + ". Answer only if you know them: give the answers as a JSON object keyed by question id."
        )
        field = GateField(
            name=NO_QUESTIONS_FIELD,
            type="json",
            label="Answers (JSON object keyed by question id)",
            required=True,
        )
        return [field], prompt, {"answers_shape": "unknown"}
    fields = [_question_field(q) for q in questions]
    title = _text(data.get("title"))
    if len(fields) == 1:
        prompt = f"{title}\n{fields[0].label}" if title and title != fields[0].label else str(fields[0].label)
    else:
        listed = "\n".join(f"- {f.label}" for f in fields)
        prompt = f"{title or f'The run asks {len(fields)} questions'}:\n{listed}"
    # The spec answers `[{id, answer}]`; the host that keeps questions in the node's `config` takes `{id: answer}`.
    return fields, prompt, {"answers_shape": "map" if where == "config" else "list"}


# -- external events ---------------------------------------------------------------------------------------------


def _correlation_field(key: str, value: Any) -> GateField:
    expected = json.dumps(value, ensure_ascii=False)
    field = GateField(
        name=key,
        label=f"{key} (correlation key)",
        description=f"The host matches the event by this key: it must be {expected}.",
        required=True,
        default=value,
    )
    if isinstance(value, bool):
        return field.model_copy(update={"type": "boolean"})
    if isinstance(value, int):
        return field.model_copy(update={"type": "integer"})
    if isinstance(value, float):
        return field.model_copy(update={"type": "number"})
    if isinstance(value, str):
        return field
    return field.model_copy(update={"type": "json", "default": expected})


def _external(data: dict[str, Any]) -> tuple[list[GateField], str, dict[str, Any]]:
    raw = data.get("correlation")
    correlation = cast(dict[str, Any], raw) if isinstance(raw, dict) else {}
    keys = {k: v for k, v in correlation.items() if k != "eventPayload"}
    fields = [_correlation_field(k, v) for k, v in keys.items()]
    fields.append(
        GateField(
            name="eventPayload",
            type="json",
            label="Event payload (JSON)",
            description="Optional: the event's body, handed to the run",
        )
    )
    event = _text(data.get("eventType"))
    prompt = _title_and_description(data) or (
        f"The run waits for the external event {event!r}." if event else "The run waits for an external event."
    )
    if keys:
        needed = ", ".join(f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in keys.items())
        prompt += f"\nThe answer must carry every correlation key: {needed}."
    context = {k: v for k, v in data.items() if k not in ("title", "prompt", "description", "correlation")}
    if keys:
        context["correlation"] = keys
    return fields, prompt, context


def _other(raw_kind: str, data: dict[str, Any]) -> tuple[list[GateField], str, dict[str, Any]]:
    field = GateField(name="value", type="json", label="Value (JSON)", required=True)
    prompt = _title_and_description(data) or f"The run waits for a {raw_kind} input."
    context = {k: v for k, v in data.items() if k not in ("title", "prompt", "description", "question")}
    return [field], prompt, context


# -- the gate ----------------------------------------------------------------------------------------------------


def gate_id_of(payload: dict[str, Any], *, run_id: str, node_id: str | None) -> str:
    """The id of the gate an interrupt event is about (the one it opens, or the one it says was resolved)."""
    node = str(payload.get("nodeId") or node_id or "")
    return f"{run_id}:{node}:{payload.get('interruptId') or payload.get('key') or node}"


def gate_from_interrupt(
    payload: dict[str, Any], *, run_id: str, node_id: str | None, step: StepRef | None = None
) -> Gate:
    """A gate from an `interrupt.requested` payload, a `node.suspended` payload, or a snapshot's `interrupt`."""
    data, where = interrupt_data(payload)
    inner = payload.get("payload") if isinstance(payload.get("payload"), dict) else {}
    raw_kind = str(payload.get("kind") or cast(dict[str, Any], inner).get("kind") or "custom")
    node = str(payload.get("nodeId") or node_id or "")
    interrupt_id = str(payload.get("interruptId") or payload.get("key") or node)
    kind = _KINDS.get(raw_kind, "custom")
    notes: dict[str, Any] = {}
    if raw_kind == "approval":
        fields, prompt, context, notes = _approval(data)
    elif raw_kind == "clarification":
        fields, prompt, notes = _clarification(data, where)
        context = {}
    elif raw_kind == "external-event":
        fields, prompt, context = _external(data)
    else:
        fields, prompt, context = _other(raw_kind, data)
    timeout_ms = payload.get("timeoutMs", data.get("timeoutMs"))
    expires = None
    requested = parse_time(payload.get("requestedAt"))
    if isinstance(timeout_ms, int) and requested is not None:
        expires = requested + timedelta(milliseconds=timeout_ms)
    gate = Gate(
        gate_id=gate_id_of(payload, run_id=run_id, node_id=node_id),
        run_id=run_id,
        kind=kind,
        prompt=prompt,
        fields=fields,
        context=context,
        step=step,
        expires_at=expires,
        opened_at=requested or utc_now(),
        resume={**_resume_notes(payload, node=node, interrupt_id=interrupt_id, kind=raw_kind, data=data), **notes},
    )
    votes = payload.get("votes", data.get("votes"))
    return with_votes(gate, votes) if votes else gate


def _resume_notes(payload: dict[str, Any], *, node: str, interrupt_id: str, kind: str, data: Any) -> dict[str, Any]:
    """What answering needs later, possibly after a restart: the node (run-scoped resolve), and the token with the
    correlation keys a token resolve must repeat. Kept out of everything shown to the model: the token is a key."""
    notes: dict[str, Any] = {"node_id": node, "interrupt_kind": kind, "interrupt_id": interrupt_id}
    token = interrupt_token(payload)
    if token:
        notes["token"] = token
    correlation = cast(dict[str, Any], data).get("correlation") if isinstance(data, dict) else None
    if isinstance(correlation, dict) and correlation:
        notes["correlation"] = dict(cast(dict[str, Any], correlation))
    return notes
