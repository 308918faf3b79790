"""Every kind of gate field, answered: what the form's own schema accepts is taken (as the backend takes it), and
what it refuses is refused with a message naming the field and what it takes. The check and the form agree because
the answer is validated against the schema the form was built from."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from runbridge.bridge.gates import answer_from_content, elicitation_schema, validate_values
from runbridge.core.errors import GateError
from runbridge.core.models import Gate, GateField

# type, field options, [(valid answer, what the backend gets)], [(invalid answer, words of the refusal)]
CASES: list[tuple[str, list[str] | None, list[tuple[Any, Any]], list[tuple[Any, str]]]] = [
    (
        "multiselect",
        ["red", "green", "blue"],
        [(["red", "blue"], ["red", "blue"]), ([], [])],
        [("red", "a list drawn from ['red', 'green', 'blue']"), (["red", "pink"], "not ['red', 'pink']")],
    ),
    ("boolean", None, [(True, True), (False, False)], [("yes", "true or false"), (1, "not 1")]),
    (
        "integer",
        None,
        [(3, 3), (-7, -7), (4.0, 4)],
        [(2.5, "a whole number"), ("3", "not '3'"), (True, "a whole number")],
    ),
    ("number", None, [(2.5, 2.5), (3, 3)], [("2.5", "a number"), (False, "not False"), ([1], "a number")]),
    (
        "json",
        None,
        [('{"ok": true}', {"ok": True}), ("[1, 2]", [1, 2]), ({"already": "data"}, {"already": "data"})],
        [("{broken", "JSON text")],
    ),
    ("select", ["S", "M"], [("M", "M")], [("XL", "one of ['S', 'M'], not 'XL'"), (2, "one of ['S', 'M']")]),
    ("text", None, [("blue", "blue")], [(5, "text, not 5"), ("x" * 20_001, "too long")]),
]


def _gate(kind: str, options: list[str] | None) -> Gate:
    field = GateField(name="answer", type=kind, label="The answer", options=options, required=True)  # type: ignore[arg-type]
    return Gate(gate_id="g", run_id="r", kind="input", prompt="Answer it.", fields=[field])


@pytest.mark.parametrize(("kind", "options", "valid", "invalid"), CASES, ids=[c[0] for c in CASES])
def test_an_answer_is_taken_or_refused_as_the_forms_schema_says(
    kind: str, options: list[str] | None, valid: list[tuple[Any, Any]], invalid: list[tuple[Any, str]]
) -> None:
    gate = _gate(kind, options)
    form = jsonschema.Draft202012Validator(elicitation_schema(gate))
    for value, sent in valid:
        if kind != "json" or isinstance(value, str):  # JSON data passed to gates_respond is not a form answer
            assert form.is_valid({"answer": value}), (kind, value)
        assert validate_values(gate, {"answer": value}) == {"answer": sent}
        assert type(validate_values(gate, {"answer": value})["answer"]) is type(sent)
    for value, words in invalid:
        with pytest.raises(GateError) as refused:
            validate_values(gate, {"answer": value})
        message = str(refused.value)
        assert message.startswith("answer "), message  # names the field
        assert words in message, message
        if kind != "json" and not (isinstance(value, str) and len(value) > 20_000):  # those are form-valid strings
            assert not form.is_valid({"answer": value}), (kind, value)


def test_an_answer_through_the_form_is_checked_the_same_way() -> None:
    gate = _gate("integer", None)
    assert answer_from_content(gate, "accept", {"answer": 5}) is not None
    with pytest.raises(GateError, match="answer must be a whole number, not 'five'"):
        answer_from_content(gate, "accept", {"answer": "five"})


def test_a_refused_value_is_quoted_short() -> None:
    gate = _gate("boolean", None)
    with pytest.raises(GateError) as refused:
        validate_values(gate, {"answer": "y" * 500})
    assert len(str(refused.value)) < 120
    assert "…" in str(refused.value)


def test_unknown_and_missing_fields_are_refused_before_any_type_is_checked() -> None:
    gate = _gate("number", None)
    with pytest.raises(GateError, match=r"Unknown field\(s\) \['other'\]"):
        validate_values(gate, {"answer": 1, "other": 2})
    with pytest.raises(GateError, match="answer is required \\(The answer\\): a number"):
        validate_values(gate, {})
