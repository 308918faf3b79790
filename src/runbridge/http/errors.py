"""Turn an HTTP error response into the error tree, reading whichever envelope the backend uses.

A family's own envelope is read by its spec's `error_shape` (OpenWOP's `{error, message, details}` is
`backends/openwop/errors.py`), found by the family's name; then the common ones: a nested error object `{error:
{code, message, is_retryable, suggested_wait_time}, metadata: {request_id}}`, FastAPI's `{detail}` (Synapse and
orchagent), and `{message, code}`. Only the backend's own short message, code and request id are kept, never the
body or headers.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2

from ..core.errors import (
    AuthError,
    BackendError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    RateLimitedError,
    UnavailableError,
)
from ..core.families import ErrorInfo, ErrorShape, find_family
from ..core.text import shorten
from .retry import parse_retry_after

__all__ = ["ErrorInfo", "as_mapping", "as_number", "error_for_response", "parse_error_body", "short_message"]

_MAX_MESSAGE = 300

_FALLBACK = {
    400: "The backend rejected the request as invalid",
    401: "The backend rejected the credentials; check the profile's key or token file",
    403: "The credentials are valid but not allowed to do this (missing scope or permission)",
    404: "Not found on the backend",
    405: "The backend does not support this operation",
    406: "The backend refused the request's content negotiation",
    409: "The request conflicts with the run's current state",
    410: "Gone: it expired on the backend",
    422: "The backend could not process the request's content",
    429: "The backend is rate limiting requests",
    501: "The backend does not implement this operation",
}


def short_message(text: object) -> str | None:
    """A backend's text as one line of at most 300 characters; None for what is not text."""
    if not isinstance(text, str) or not text.strip():
        return None
    return shorten(text, _MAX_MESSAGE)


def as_number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def as_mapping(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def parse_error_body(body: Any, shape: ErrorShape | None = None) -> ErrorInfo:
    """Read the message, code, request id and retry hint out of the family's envelope (`shape`), else a common one."""
    if not isinstance(body, dict):
        return ErrorInfo()
    own = shape(body) if shape is not None else None
    if own is not None:
        return own
    error = body.get("error")
    metadata = as_mapping(body.get("metadata"))
    if isinstance(error, dict):  # a nested error object
        return ErrorInfo(
            message=short_message(error.get("message")),
            code=short_message(error.get("code")),
            request_id=short_message(metadata.get("request_id")),
            retry_after=as_number(error.get("suggested_wait_time")),
            retryable=error.get("is_retryable") if isinstance(error.get("is_retryable"), bool) else None,
        )
    detail = body.get("detail")
    if isinstance(detail, list) and detail:  # FastAPI validation errors
        first = detail[0] if isinstance(detail[0], dict) else {}
        where = ".".join(str(p) for p in first.get("loc", []) if p != "body")
        return ErrorInfo(
            message=short_message(f"{where}: {first.get('msg', 'invalid')}" if where else first.get("msg"))
        )
    if detail is not None:
        return ErrorInfo(message=short_message(detail))
    code = body.get("code")
    return ErrorInfo(
        message=short_message(body.get("message")), code=short_message(code) if isinstance(code, str) else None
    )


def _trace_id(headers: httpx2.Headers) -> str | None:
    explicit = headers.get("x-request-id") or headers.get("x-run-id")
    if explicit:
        return short_message(explicit)
    parts = headers.get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else None


def _scrub(value: object, redact: Callable[[str], str]) -> Any:
    """`value` with `redact` applied to every string in it (before any truncation could cut a secret in two)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: _scrub(v, redact) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, redact) for v in value]
    return value


def error_for_response(
    status: int,
    headers: httpx2.Headers,
    content: bytes,
    *,
    backend: str,
    action: str,
    redact: Callable[[str], str] | None = None,
) -> BackendError:
    """The error-tree exception for a non-2xx response. `action` says what was attempted ("start the run").

    `redact` scrubs a credential from every string taken from the body or headers, before they are shortened.
    """
    try:
        body: Any = json.loads(content) if content else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    if redact is not None:
        body = _scrub(body, redact)
        headers = httpx2.Headers({k: redact(v) for k, v in headers.items()})
    spec = find_family(backend)
    info = parse_error_body(body, spec.error_shape if spec is not None else None)
    reason = (
        info.message
        or _FALLBACK.get(status)
        or ("The backend failed" if status >= 500 else f"The backend answered HTTP {status}")
    )
    retry_after = parse_retry_after(headers.get("retry-after"))
    if info.retry_after is not None:
        retry_after = info.retry_after
    cls: type[BackendError]
    if status in (401, 403):
        cls = AuthError
    elif status in (404, 410):
        cls = NotFoundError
    elif status == 409:
        cls = ConflictError
    elif status == 429:
        cls = RateLimitedError
    elif status >= 500:
        cls = UnavailableError
    else:
        cls = BadRequestError
    error = cls(
        f"Could not {action}: {reason}",
        backend=backend,
        status=status,
        code=info.code,
        request_id=info.request_id or _trace_id(headers),
        retry_after=retry_after,
    )
    if info.retryable is not None:  # the backend's own verdict (orchagent.io `is_retryable`) beats the status
        error.retryable = info.retryable
    elif status in (500, 501, 505):  # "not implemented" and plain crashes do not heal by asking again
        error.retryable = False
    return error
