"""`Idempotency-Key` on OpenWOP mutations (docs/backends/openwop.md).

The final outcome (2xx and non-retryable 4xx) is kept per (method, path, key) and replayed byte for byte with
`openwop-Idempotent-Replay: true`; the same key with a different body is 409 `idempotency_key_mismatch`; a key
whose first request is still executing is 409 `idempotency_in_flight`. 429 and 5xx outcomes are not kept, so a
retry really runs again. Bodies compare as canonical JSON, so key order and whitespace do not matter.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from .envelope import error

__all__ = ["REPLAY_HEADER", "IdempotencyStore"]

REPLAY_HEADER = "openwop-Idempotent-Replay"


@dataclass(frozen=True)
class _Stored:
    digest: str
    status: int
    body: bytes
    media_type: str


def _digest(raw: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":")).encode()
    except ValueError:
        canonical = raw
    return hashlib.sha256(canonical).hexdigest()


class IdempotencyStore:
    """Outcomes by key for one app. Lives as long as the server (the spec asks for at least 24 h)."""

    def __init__(self) -> None:
        self._done: dict[tuple[str, str], _Stored] = {}
        self._in_flight: set[tuple[str, str]] = set()

    async def run(self, request: Request, handler: Callable[[bytes], Awaitable[Response]]) -> Response:
        """Call `handler(body)` once per key; replay or refuse repeats."""
        raw = await request.body()
        key = request.headers.get("idempotency-key")
        if key is None:
            return await handler(raw)
        if not key or len(key) > 255:
            return error(400, "validation_error", "Idempotency-Key must be 1 to 255 characters.")
        slot = (f"{request.method} {request.url.path}", key)
        digest = _digest(raw)
        stored = self._done.get(slot)
        if stored is not None:
            if stored.digest != digest:
                return error(409, "idempotency_key_mismatch", "This Idempotency-Key was used with another body.")
            return Response(stored.body, stored.status, headers={REPLAY_HEADER: "true"}, media_type=stored.media_type)
        if slot in self._in_flight:
            return error(
                409,
                "idempotency_in_flight",
                "A request with this Idempotency-Key is still executing.",
                {"retryAfter": 1},
                {"Retry-After": "1"},
            )
        self._in_flight.add(slot)
        try:
            response = await handler(raw)
        finally:
            self._in_flight.discard(slot)
        if response.status_code < 500 and response.status_code != 429:
            media = response.media_type or "application/json"
            self._done[slot] = _Stored(digest, response.status_code, bytes(response.body), media)
        return response
