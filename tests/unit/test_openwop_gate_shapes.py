"""OpenWOP gates from the shapes real hosts send, answers in the shape each takes, and when a failed answer closes a
gate (only when the host says the gate is gone). The same flows run against the real SQLite host in
tests/real/test_openwop_gates.py; here every shape is covered, including several questions in one clarification."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from runbridge.backends.openwop.events import EventMapper
from runbridge.backends.openwop.gates import gate_from_interrupt
from runbridge.backends.openwop.interrupts import Resolver
from runbridge.backends.openwop.resume import alternative_answers, resume_value
from runbridge.backends.openwop.wire import RawEvent
from runbridge.bridge.gates import elicitation_schema, validate_values
from runbridge.core.errors import BadRequestError, GateError, NotFoundError
from runbridge.core.models import Gate, GateAnswer, Run, RunStatus

pytestmark = pytest.mark.anyio

# The SQLite reference host: what a node asks is in its `config`, on events and (wrapped in `payload`) snapshots.
APPROVAL_CONFIG = {
    "actions": ["accept", "reject"],
    "title": "Conformance approval",
    "description": "Conformance suite — please accept to complete the run.",
}
TWO_QUESTIONS = {
    "questions": [
        {"id": "color", "question": "What is your favorite color?"},
        {"id": "size", "question": "Which size?", "schema": {"type": "string", "enum": ["S", "M", "L"]}},
        {"id": "note", "question": "Anything else?", "required": False},
    ]
}


def _event(kind: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "nodeId": "n1", "config": config, **extra}


def _snapshot(kind: str, config: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"kind": kind, "nodeId": "n1", "payload": {"kind": kind, "nodeId": "n1", "config": config}, **extra}


# -- what a gate shows -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [_event, _snapshot, lambda k, c: {"kind": k, "nodeId": "n1", "data": c}])
def test_an_approval_shows_the_hosts_title_description_and_actions_from_events_snapshots_and_data(shape: Any) -> None:
    gate = gate_from_interrupt(shape("approval", APPROVAL_CONFIG), run_id="r1", node_id=None)
    assert gate.prompt == "Conformance approval\nConformance suite — please accept to complete the run."
    assert gate.fields[0].options == ["accept", "reject"]
    assert gate.gate_id == "r1:n1:n1", "an event and a snapshot of one interrupt are one gate"


def test_the_generic_approval_text_appears_only_when_the_host_gave_none() -> None:
    assert gate_from_interrupt(_event("approval", {}), run_id="r", node_id=None).prompt == "Approve this step?"


def test_a_clarification_with_several_questions_is_one_field_per_question_with_its_text_type_and_need() -> None:
    gate = gate_from_interrupt(_event("clarification", TWO_QUESTIONS), run_id="r", node_id=None)
    assert [(f.name, f.type, f.label, f.required) for f in gate.fields] == [
        ("color", "text", "What is your favorite color?", True),
        ("size", "select", "Which size?", True),
        ("note", "text", "Anything else?", False),
    ]
    assert gate.fields[1].options == ["S", "M", "L"]
    assert "- What is your favorite color?" in gate.prompt
    assert "- Which size?" in gate.prompt
    schema = elicitation_schema(gate)
    assert list(schema["properties"]) == ["color", "size", "note"]
    assert schema["required"] == ["color", "size"]


def test_config_questions_are_answered_as_a_map_of_strings_and_data_questions_as_the_specs_list() -> None:
    answer = GateAnswer(decision="accept", values={"color": "blue", "size": "M"})
    sqlite = gate_from_interrupt(_event("clarification", TWO_QUESTIONS), run_id="r", node_id=None)
    assert resume_value(sqlite, answer) == {"answers": {"color": "blue", "size": "M", "note": ""}}
    spec = gate_from_interrupt(
        {"kind": "clarification", "nodeId": "n1", "data": TWO_QUESTIONS}, run_id="r", node_id=None
    )
    listed = resume_value(spec, answer)
    assert listed == {"answers": [{"id": "color", "answer": "blue"}, {"id": "size", "answer": "M"}]}
    assert alternative_answers(spec, listed) == {"answers": {"color": "blue", "size": "M"}}


def test_a_clarification_whose_questions_are_unknown_says_so_and_is_never_answered_with_empty_answers() -> None:
    gate = gate_from_interrupt({"kind": "clarification", "nodeId": "n1"}, run_id="r", node_id=None)
    assert "did not say what its questions are" in gate.prompt
    assert [(f.name, f.required) for f in gate.fields] == [("answers", True)]
    with pytest.raises(GateError, match="is required"):
        validate_values(gate, {})
    for empty in ("{}", "[]"):
        with pytest.raises(GateError, match="nothing was sent"):
            resume_value(gate, GateAnswer(decision="accept", values={"answers": empty}))
    given = resume_value(gate, GateAnswer(decision="accept", values={"answers": '{"q1": "blue"}'}))
    assert given == {"answers": {"q1": "blue"}}


def test_a_clarification_missing_a_required_answer_sends_nothing() -> None:
    gate = gate_from_interrupt(_event("clarification", TWO_QUESTIONS), run_id="r", node_id=None)
    with pytest.raises(GateError, match="missing: size"):
        resume_value(gate, GateAnswer(decision="accept", values={"color": "blue"}))


def test_an_external_event_names_each_correlation_key_and_sends_them_with_the_payload() -> None:
    config = {"eventType": "shipped", "correlation": {"orderId": "o-1", "attempt": 2}, "timeoutMs": 60000}
    gate = gate_from_interrupt(_event("external-event", config, interruptToken="tok"), run_id="r", node_id=None)
    assert 'orderId = "o-1", attempt = 2' in gate.prompt
    assert [(f.name, f.type, f.required, f.default) for f in gate.fields] == [
        ("orderId", "text", True, "o-1"),
        ("attempt", "integer", True, 2),
        ("eventPayload", "json", False, None),
    ]
    values = validate_values(gate, {"eventPayload": '{"ok": true}'})
    assert resume_value(gate, GateAnswer(decision="accept", values=values)) == {
        "orderId": "o-1",
        "attempt": 2,
        "eventPayload": {"ok": True},
    }


def test_a_quorum_says_how_many_approvals_it_has_and_needs() -> None:
    config = {**APPROVAL_CONFIG, "requiredApprovals": 3}
    gate = gate_from_interrupt(_event("approval", config), run_id="r", node_id=None)
    assert gate.context["approvals"] == "0 of 3 approvals"
    voted = gate_from_interrupt(
        _event("approval", config, votes=[{"action": "accept"}, {"action": "accept"}]), run_id="r", node_id=None
    )
    assert voted.context["approvals"] == "2 of 3 approvals"
    assert voted.prompt.count("so far") == 1


def test_a_vote_event_reads_as_words_with_the_count() -> None:
    mapper = EventMapper("r")
    config = {**APPROVAL_CONFIG, "requiredApprovals": 3}
    suspended = {"type": "node.suspended", "nodeId": "gate", "data": {"kind": "approval", "config": config}}
    vote = {"type": "interrupt.vote", "nodeId": "gate", "data": {"votes": [{"action": "accept"}]}}
    mapper.map(RawEvent(suspended, fallback_type="", fallback_seq=1, run_id="r"))
    text = mapper.map(RawEvent(vote, fallback_type="", fallback_seq=2, run_id="r")).text
    assert "1 of 3 approvals" in text
    assert "interrupt.vote" not in text


# -- answering: a gate closes only when the host says it is gone -------------------------------------------------


class _Host:
    """A scripted host: each resolve path answers from a list; the run's snapshot says whether it still waits."""

    def __init__(self, gate: Gate | None, **answers: list[Any]) -> None:
        self.open = gate
        self.answers = answers
        self.calls: list[tuple[str, Any]] = []

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        where = "token" if path.startswith("/interrupts/") else "run"
        self.calls.append((where, kwargs.get("json")))
        result = self.answers[where].pop(0)
        if isinstance(result, Exception):
            raise result
        return result

    async def get_run(self, run_id: str) -> Run:
        status = RunStatus.WAITING if self.open is not None else RunStatus.COMPLETED
        return Run(run_id=run_id, status=status, open_gate=self.open)


def _not_found() -> NotFoundError:
    return NotFoundError("Interrupt resolved or missing.", status=404, code="interrupt_not_found", backend="openwop")


async def _resolve(host: _Host, gate: Gate, value: Any) -> dict[str, Any]:
    with anyio.fail_after(5):
        return await Resolver(host.call, host.get_run).resolve(gate, value)


async def test_an_external_event_with_a_token_is_answered_through_it_with_every_correlation_key() -> None:
    config = {"correlation": {"orderId": "o-1"}}
    gate = gate_from_interrupt(_event("external-event", config, interruptToken="tok"), run_id="r", node_id=None)
    host = _Host(gate, token=[{"runId": "r", "status": "running"}])
    await _resolve(host, gate, {"eventPayload": {}})
    assert host.calls == [("token", {"resumeValue": {"orderId": "o-1", "eventPayload": {}}})]


async def test_a_404_while_the_run_still_waits_leaves_the_gate_open_with_the_hosts_reason() -> None:
    gate = gate_from_interrupt(_event("approval", APPROVAL_CONFIG), run_id="r", node_id=None)
    host = _Host(gate, run=[_not_found()])
    with pytest.raises(GateError) as caught:
        await _resolve(host, gate, {"action": "accept"})
    assert caught.value.closed is False
    assert "Interrupt resolved or missing" in str(caught.value)


async def test_a_404_once_the_run_moved_on_closes_the_gate() -> None:
    gate = gate_from_interrupt(_event("approval", APPROVAL_CONFIG), run_id="r", node_id=None)
    host = _Host(None, run=[_not_found()])
    with pytest.raises(GateError) as caught:
        await _resolve(host, gate, {"action": "accept"})
    assert caught.value.closed is True


async def test_a_refused_answer_keeps_the_gate_open_and_a_refused_shape_is_tried_once_in_the_other() -> None:
    gate = gate_from_interrupt(_event("clarification", TWO_QUESTIONS), run_id="r", node_id=None)
    refusal = BadRequestError("Answer for question MUST be a string.", status=422, code="validation_error")
    host = _Host(gate, run=[refusal, refusal])
    with pytest.raises(GateError) as caught:
        await _resolve(host, gate, {"answers": {"color": "blue", "size": "M", "note": ""}})
    assert caught.value.closed is False
    assert "validation_error" in str(caught.value)
    assert [c[1]["resumeValue"]["answers"] for c in host.calls][1] == [
        {"id": "color", "answer": "blue"},
        {"id": "size", "answer": "M"},
        {"id": "note", "answer": ""},
    ]


async def test_a_vote_the_host_counted_while_it_still_waits_is_pending_with_the_new_count() -> None:
    config = {**APPROVAL_CONFIG, "requiredApprovals": 3}
    gate = gate_from_interrupt(_event("approval", config), run_id="r", node_id=None)
    pending = {
        "runId": "r",
        "status": "waiting-approval",
        "interrupt": {"nodeId": "n1", "votes": [{"action": "accept"}]},
    }
    outcome = await _resolve(_Host(gate, run=[pending]), gate, {"action": "accept"})
    assert outcome["pending"] is True
    assert outcome["gate"].context["approvals"] == "1 of 3 approvals"
    done = {"runId": "r", "status": "running", "interrupt": {"outcome": "accepted", "votes": []}}
    assert "pending" not in await _resolve(_Host(gate, run=[done]), gate, {"action": "accept"})
