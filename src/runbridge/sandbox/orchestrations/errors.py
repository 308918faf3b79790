"""FastAPI's error shapes, as Synapse answers them (docs/backends/orchestrations.md): `{"detail": "..."}`, or a list for
422."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, cast

from starlette.responses import JSONResponse

from ..faults import Burst

__all__ = ["Invalid", "burst_response", "detail", "read_body"]


class Invalid(Exception):
    """The request body does not validate; becomes 422 with FastAPI's list of problems."""

    def __init__(self, loc: list[str], msg: str, type_: str) -> None:
        super().__init__(msg)
        self.problem = {"loc": loc, "msg": msg, "type": type_}

    def response(self) -> JSONResponse:
        return JSONResponse({"detail": [self.problem]}, status_code=422)


def detail(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": message}, status_code=status, headers=dict(headers or {}))


def read_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a request body (empty → `{}`); Invalid otherwise."""
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise Invalid(["body"], "JSON decode error", "json_invalid") from None
    if not isinstance(body, dict):
        raise Invalid(["body"], "Input should be a valid dictionary", "dict_type")
    return cast(dict[str, Any], body)


def burst_response(burst: Burst) -> JSONResponse:
    """An injected 429 (as v2's per-tenant limit answers it) or 503 (overloaded), with `Retry-After`."""
    headers = {"Retry-After": str(math.ceil(burst.retry_after))}
    if burst.status == 429:
        headers |= {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0"}
        return detail(429, "Rate limit exceeded.", headers)
    return detail(503, "The service is temporarily unavailable.", headers)
