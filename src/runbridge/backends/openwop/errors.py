"""OpenWOP's closed error envelope: `{error, message, details: {correlationId, retryAfterMs | retryAfter}}`."""

from __future__ import annotations

from typing import Any

from ...core.families import ErrorInfo
from ...http.errors import as_mapping, as_number, short_message

__all__ = ["closed_envelope"]


def closed_envelope(body: dict[str, Any]) -> ErrorInfo | None:
    """The code, message, correlation id and retry hint of an OpenWOP error body; None for any other body."""
    error = body.get("error")
    if not isinstance(error, str):
        return None
    details = as_mapping(body.get("details"))
    retry_ms = as_number(details.get("retryAfterMs"))
    return ErrorInfo(
        message=short_message(body.get("message")),
        code=short_message(error),
        request_id=short_message(details.get("correlationId")),
        retry_after=retry_ms / 1000 if retry_ms is not None else as_number(details.get("retryAfter")),
    )
