"""OpenWOP's closed error envelope `{"error": code, "message": str, "details"?: {...}}` and engine-error mapping."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

from ..errors import (
    EngineError,
    ForkInvalid,
    ForkUnsupported,
    GateAlreadyResolved,
    GateNotFound,
    GateValidationError,
    NotPaused,
    RunNotFound,
    RunTerminal,
    WorkflowNotFound,
)
from ..faults import Burst

__all__ = ["BadRequest", "burst_response", "engine_error", "error", "read_json"]

_STATUS: dict[type[EngineError], int] = {
    WorkflowNotFound: 404,
    RunNotFound: 404,
    RunTerminal: 409,
    GateNotFound: 404,
    GateAlreadyResolved: 409,
    GateValidationError: 400,
    ForkInvalid: 422,
    ForkUnsupported: 501,
    NotPaused: 409,
}


class BadRequest(Exception):
    """The request body is unusable; becomes 400 `validation_error`."""


def error(
    status: int,
    code: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"error": code, "message": message}
    if details:
        body["details"] = dict(details)
    return JSONResponse(body, status_code=status, headers=dict(headers or {}))


def engine_error(exc: EngineError) -> JSONResponse:
    """The default status and code for an engine refusal (handlers override where hosts differ)."""
    for kind, status in _STATUS.items():
        if isinstance(exc, kind):
            return error(status, exc.code, exc.message)
    return error(500, "internal_error", exc.message)


def burst_response(burst: Burst) -> JSONResponse:
    """An injected 429 (`rate_limited`) or 503 (`service_unavailable`), with `Retry-After` in whole seconds."""
    headers = {"Retry-After": str(math.ceil(burst.retry_after))}
    details = {"retryAfterMs": int(burst.retry_after * 1000)}
    if burst.status == 429:
        return error(429, "rate_limited", "Too many requests; slow down.", {**details, "scope": "route"}, headers)
    return error(503, "service_unavailable", "The host is temporarily unavailable.", details, headers)


def read_json(raw: bytes, *, default: Any = None) -> Any:
    """Parse a request body (empty → `default`); BadRequest when it is not JSON."""
    if not raw.strip():
        return default
    try:
        return json.loads(raw)
    except ValueError:
        raise BadRequest("The request body is not valid JSON.") from None
