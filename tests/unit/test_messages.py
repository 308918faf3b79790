"""Every message a person or a model reads ends in exactly one full stop, whatever the pieces it is built from end
with (a backend's own message often ends with one already)."""

from __future__ import annotations

import httpx2
import pytest

from runbridge.backends.openwop.lifecycle import not_found_hint
from runbridge.core import errors
from runbridge.core.errors import (
    BackendError,
    CursorError,
    GateError,
    InputError,
    NotFoundError,
    RunbridgeError,
    sentence,
    sentences,
)
from runbridge.http.errors import error_for_response


def _ends_once(text: str) -> bool:
    return text.endswith(".") and not text.endswith("..") and ".." not in text


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Run not found", "Run not found."),
        ("Run not found.", "Run not found."),
        ("Run not found..", "Run not found."),
        ("Run not found. ", "Run not found."),
        ("Shall I?", "Shall I?"),
        ("cut off…", "cut off…"),
        ("", ""),
    ],
)
def test_a_sentence_ends_in_exactly_one_full_stop(raw: str, expected: str) -> None:
    assert sentence(raw) == expected


def test_sentences_join_parts_without_doubling_their_stops() -> None:
    assert sentences("Run 'x' not found.", "No run with that id", "") == "Run 'x' not found. No run with that id."


@pytest.mark.parametrize("backend_message", ["Run 'r1' not found.", "Run 'r1' not found", "Run 'r1' not found.."])
def test_a_not_found_hint_after_a_message_that_ends_with_a_stop_has_no_double_stop(backend_message: str) -> None:
    body = f'{{"error": "run_not_found", "message": "{backend_message}"}}'.encode()
    error = error_for_response(404, httpx2.Headers(), body, backend="openwop", action="get the run")
    assert isinstance(error, NotFoundError)
    text = str(not_found_hint(error, "run"))
    assert text == (
        "Could not get the run: Run 'r1' not found. No run with that id; if it was just created, the credentials "
        "may be wrong (HTTP 404, run_not_found)."
    )


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 429, 500, 503])
@pytest.mark.parametrize("message", ["It broke.", "It broke", None])
def test_every_backend_error_text_ends_in_one_full_stop(status: int, message: str | None) -> None:
    body = b"" if message is None else f'{{"error": "x", "message": "{message}"}}'.encode()
    headers = httpx2.Headers({"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
    text = str(error_for_response(status, headers, body, backend="openwop", action="do it"))
    assert _ends_once(text), text


@pytest.mark.parametrize("cls", [c for c in vars(errors).values() if isinstance(c, type) and issubclass(c, Exception)])
def test_every_error_class_ends_its_text_in_one_full_stop(cls: type[RunbridgeError]) -> None:
    if cls is CursorError:
        error: RunbridgeError = CursorError("abc.")
    elif cls is GateError:
        error = GateError("Already answered.", closed=True)
    elif issubclass(cls, BackendError):
        error = cls("Could not do it: gone.", status=404, code="not_found")
    else:
        error = cls("Something is wrong.")
    assert _ends_once(str(error)), str(error)


def test_a_cursor_error_names_the_tool_to_call_without_a_cursor() -> None:
    error = CursorError("page-two").for_call("targets_list")
    assert isinstance(error, InputError)
    assert str(error) == (
        "Invalid cursor 'page-two': it is not one runbridge gave out. "
        "Call targets_list without a cursor to start from the beginning."
    )
