"""Error mapping: every backend's error envelope, every status, and `Retry-After` in both of its forms."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx2
import pytest

from runbridge.backends.openwop.errors import closed_envelope
from runbridge.core.errors import (
    AuthError,
    BackendError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from runbridge.http.errors import ErrorInfo, error_for_response, parse_error_body
from runbridge.http.retry import parse_retry_after


def respond(
    status: int, body: Any = None, *, headers: dict[str, str] | None = None, raw: bytes | None = None
) -> BackendError:
    content = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
    return error_for_response(status, httpx2.Headers(headers or {}), content, backend="openwop", action="get the run")


# -- parse_error_body: one envelope at a time -------------------------------------------------------------------------


def test_the_openwop_closed_envelope_gives_code_message_correlation_id_and_retry_hint() -> None:
    body = {
        "error": "rate_limited",
        "message": "Too many runs for this tenant",
        "details": {"retryAfterMs": 12500, "scope": "tenant", "correlationId": "corr-7"},
    }
    assert parse_error_body(body, closed_envelope) == ErrorInfo(
        message="Too many runs for this tenant", code="rate_limited", request_id="corr-7", retry_after=12.5
    )
    error = respond(429, body)  # found through the openwop family's spec
    assert (error.code, error.request_id, error.retry_after) == ("rate_limited", "corr-7", 12.5)


def test_the_openwop_in_flight_hint_in_seconds_is_read_too() -> None:
    body = {"error": "idempotency_in_flight", "message": "Still executing", "details": {"retryAfter": 3}}
    assert parse_error_body(body, closed_envelope).retry_after == 3.0


def test_a_family_reads_only_its_own_envelope() -> None:
    """OpenWOP's envelope is OpenWOP's: another family's body of that shape keeps only what the common ones read."""
    body = {"error": "rate_limited", "message": "Slow down", "details": {"correlationId": "corr-7"}}
    error = error_for_response(429, httpx2.Headers(), json.dumps(body).encode(), backend="orchestrations", action="x")
    assert (error.code, error.request_id) == (None, None)
    assert "Slow down" in str(error)


def test_the_orchagent_io_envelope_gives_code_message_request_id_and_retry_hints() -> None:
    body = {
        "error": {
            "code": "RATE_LIMITED",
            "message": "Daily quota used",
            "is_retryable": True,
            "suggested_wait_time": 30,
        },
        "metadata": {"request_id": "req_abc"},
    }
    assert parse_error_body(body) == ErrorInfo(
        message="Daily quota used", code="RATE_LIMITED", request_id="req_abc", retry_after=30.0, retryable=True
    )


def test_the_fastapi_string_detail_is_the_message() -> None:
    assert parse_error_body({"detail": "Orchestration not found"}) == ErrorInfo(message="Orchestration not found")


def test_the_fastapi_validation_list_names_the_field_and_the_problem() -> None:
    body = {
        "detail": [
            {"loc": ["body", "input", "topic"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["body", "other"], "msg": "ignored", "type": "x"},
        ]
    }
    assert parse_error_body(body) == ErrorInfo(message="input.topic: field required")


def test_the_orq_envelope_gives_the_message_and_a_string_code() -> None:
    assert parse_error_body({"message": "Agent not found", "code": "not_found"}) == ErrorInfo(
        message="Agent not found", code="not_found"
    )
    assert parse_error_body({"message": "Agent not found", "code": 404}) == ErrorInfo(message="Agent not found")


@pytest.mark.parametrize("body", [None, "oops", 42, [1, 2], {}, {"unrelated": True}, {"detail": []}])
def test_a_body_that_is_no_known_envelope_gives_nothing(body: Any) -> None:
    assert parse_error_body(body) == ErrorInfo()


def test_messages_are_squeezed_to_one_line_and_truncated() -> None:
    info = parse_error_body({"message": "line one\n\n  line\ttwo   " + "x" * 1000})
    assert info.message is not None
    assert info.message.startswith("line one line two x")
    assert len(info.message) <= 300
    assert info.message.endswith("…")


# -- error_for_response: status → class, and what the message may contain -----------------------------------------


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, BadRequestError),
        (401, AuthError),
        (403, AuthError),
        (404, NotFoundError),
        (409, ConflictError),
        (410, NotFoundError),
        (422, BadRequestError),
        (429, RateLimitedError),
        (500, UnavailableError),
        (502, UnavailableError),
        (503, UnavailableError),
        (504, UnavailableError),
    ],
)
def test_each_status_maps_to_its_error_class(status: int, cls: type[BackendError]) -> None:
    error = respond(status, {"error": "some_code", "message": "the backend's words"})
    assert type(error) is cls
    assert error.status == status
    assert error.code == "some_code"
    assert error.backend == "openwop"
    assert error.message == "Could not get the run: the backend's words"


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 429])
def test_a_status_without_a_body_gets_a_helpful_fallback_message(status: int) -> None:
    error = respond(status)
    assert error.message.startswith("Could not get the run: ")
    assert len(error.message) > len("Could not get the run: ") + 10


def test_an_unknown_5xx_without_a_body_says_the_backend_failed() -> None:
    error = respond(599)
    assert isinstance(error, UnavailableError)
    assert error.message == "Could not get the run: The backend failed"


def test_only_rate_limits_and_outages_are_retryable() -> None:
    assert respond(429).retryable
    assert respond(503).retryable
    assert not respond(400).retryable
    assert not respond(401).retryable
    assert not respond(404).retryable
    assert not respond(409).retryable


def test_the_backends_own_is_retryable_flag_wins_over_the_status() -> None:
    no = {"error": {"code": "SANDBOX_ERROR", "message": "bad agent code", "is_retryable": False}}
    yes = {"error": {"code": "LLM_RATE_LIMITED", "message": "upstream busy", "is_retryable": True}}
    assert respond(503, no).retryable is False
    assert respond(400, yes).retryable is True


def test_a_rate_limit_reads_retry_after_from_the_header() -> None:
    error = respond(429, {"error": "rate_limited", "message": "slow down"}, headers={"Retry-After": "7"})
    assert isinstance(error, RateLimitedError)
    assert error.retry_after == 7.0


def test_a_rate_limit_reads_retry_after_from_the_body_when_the_header_is_absent() -> None:
    error = respond(429, {"error": "rate_limited", "message": "slow down", "details": {"retryAfterMs": 1500}})
    assert error.retry_after == 1.5
    orchagent = {"error": {"code": "RATE_LIMITED", "message": "quota", "suggested_wait_time": 60}}
    assert respond(429, orchagent).retry_after == 60.0


def test_the_body_hint_is_more_precise_than_the_header_and_wins() -> None:
    error = respond(
        429,
        {"error": "rate_limited", "message": "x", "details": {"retryAfterMs": 12500}},
        headers={"Retry-After": "13"},
    )
    assert error.retry_after == 12.5


def test_a_503_carries_its_retry_after_too() -> None:
    assert respond(503, headers={"Retry-After": "2"}).retry_after == 2.0


def test_the_request_id_comes_from_the_body_then_the_headers_then_the_trace_id() -> None:
    assert respond(500, {"error": {"code": "X", "message": "m"}, "metadata": {"request_id": "req_1"}}).request_id == (
        "req_1"
    )
    assert respond(500, headers={"X-Request-Id": "hdr-2"}).request_id == "hdr-2"
    assert respond(500, headers={"X-Run-Id": "run-3"}).request_id == "run-3"
    trace = "0af7651916cd43dd8448eb211c80319c"
    assert respond(500, headers={"traceparent": f"00-{trace}-b7ad6b7169203331-01"}).request_id == trace
    assert respond(500, headers={"traceparent": "garbage"}).request_id is None


def test_a_non_json_body_is_never_shown_only_the_fallback_is() -> None:
    html = b"<html><body><h1>502 Bad Gateway</h1><p>nginx internal 10.0.0.7 upstream=secret-pool</p></body></html>"
    error = respond(502, raw=html)
    assert isinstance(error, UnavailableError)
    assert error.message == "Could not get the run: The backend failed"
    assert "nginx" not in str(error)
    assert "10.0.0.7" not in str(error)


def test_invalid_utf8_in_the_body_is_treated_as_no_envelope() -> None:
    error = respond(400, raw=b"\xff\xfe{not json")
    assert isinstance(error, BadRequestError)
    assert error.message == "Could not get the run: The backend rejected the request as invalid"


def test_only_the_backends_message_field_reaches_the_error_never_the_rest_of_the_body() -> None:
    body = {
        "error": "internal_error",
        "message": "Engine crashed",
        "details": {"stack": "Traceback at /srv/engine.py line 12", "env": {"DB_PASSWORD": "hunter2"}},
    }
    error = respond(500, body)
    text = str(error)
    assert "Engine crashed" in text
    for leaked in ("Traceback", "/srv/engine.py", "DB_PASSWORD", "hunter2", "stack"):
        assert leaked not in text


def test_a_huge_backend_message_is_truncated_in_the_error() -> None:
    error = respond(400, {"message": "A" * 10_000})
    assert len(error.message) < 400
    assert error.message.endswith("…")


def test_str_of_an_error_shows_status_code_and_request_id_but_no_headers() -> None:
    error = respond(
        409,
        {"error": "run_already_active", "message": "A run is active", "details": {"correlationId": "corr-9"}},
        headers={"Retry-After": "4", "Set-Cookie": "session=cookie-value", "X-Internal": "header-value"},
    )
    assert str(error) == "Could not get the run: A run is active (HTTP 409, run_already_active) [request corr-9]."
    assert "cookie-value" not in str(error)
    assert "header-value" not in str(error)


def test_a_secret_echoed_anywhere_in_the_error_is_redacted_before_truncation() -> None:
    secret = "SENTINEL-SECRET-123"

    def redact(text: str) -> str:
        return text.replace(secret, "***")

    body = {"error": f"bad_key_{secret}", "message": "a" * 290 + secret, "details": {"correlationId": secret}}
    error = error_for_response(
        401, httpx2.Headers({"X-Request-Id": secret}), json.dumps(body).encode(), backend="b", action="x", redact=redact
    )
    assert "SENTINEL" not in str(error)
    assert "SENTINEL" not in (error.code or "")
    assert "SENTINEL" not in (error.request_id or "")
    header_only = error_for_response(
        500, httpx2.Headers({"X-Request-Id": f"id-{secret}"}), b"", backend="b", action="x", redact=redact
    )
    assert header_only.request_id == "id-***"


# -- parse_retry_after --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [("0", 0.0), ("5", 5.0), (" 120 ", 120.0), ("1.5", 1.5), ("-3", 0.0)])
def test_retry_after_in_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


def test_retry_after_as_an_http_date_is_the_seconds_until_then() -> None:
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 30.0


def test_retry_after_as_a_date_in_the_past_means_now() -> None:
    now = datetime(2015, 10, 21, 8, 0, 0, tzinfo=UTC)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "Wed, 99 Foo 2015", "12 monkeys"])
def test_retry_after_garbage_is_none(value: str | None) -> None:
    assert parse_retry_after(value) is None
