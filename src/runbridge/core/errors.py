"""The one error tree of runbridge.

```text
RunbridgeError                 base; `str(err)` is safe to show to a person or a model
├── ConfigError                the configuration file or environment is wrong; the message says what to fix
├── InputError                 the caller's arguments are wrong (bad cursor, unknown target, wrong shape)
│   ├── UnknownProfileError    no profile by that name
│   └── CursorError            a cursor runbridge did not give out
├── UnsupportedError           this profile's backend cannot do that (missing capability, 404/501 on an option)
├── GateError                  a gate cannot be answered: answered already, closed, or values outside its schema
├── BackendError               the backend answered with an error status
│   ├── AuthError              401 / 403: credentials missing, wrong, expired or lacking a scope
│   ├── NotFoundError          404 / 410: unknown or expired run, workflow, gate
│   ├── ConflictError          409: already active, already resolved, idempotency clash
│   ├── BadRequestError        400 / 422: the backend rejected the request's content
│   ├── RateLimitedError       429: `retry_after` says when to try again
│   └── UnavailableError       5xx: the backend is failing or overloaded; retryable
└── TransportError             no usable answer: connection refused, timeout, broken or malformed stream
    ├── BackendTimeoutError    connect or read timed out, or the tool call's time budget ran out
    ├── UnreachableError       the connection was refused: nothing listens at the backend's address
    └── StreamError            an event stream was malformed, oversized or ended too early
```

Errors carry the HTTP status, the backend's error code and request id: never a response body, a header or a
credential. The tools layer is the one place that turns them into MCP tool errors. `str(err)` is one or more
sentences ending in exactly one full stop, however the parts it was built from (often a backend's own message) end:
compose messages with `sentence` and `sentences`, never by adding ". " to a message that may already end with one.

Whatever reaches a client as an error passes `bounded` (at most `MAX_MESSAGE_CHARS`, the cut said): an argument
echoed back, or a backend's long message, must not flood the context of the model that reads it.
"""

from __future__ import annotations

from typing import TypeVar

__all__ = [
    "MAX_MESSAGE_CHARS",
    "AuthError",
    "BackendError",
    "BackendTimeoutError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "CursorError",
    "GateError",
    "InputError",
    "NotFoundError",
    "RateLimitedError",
    "RunbridgeError",
    "StreamError",
    "TransportError",
    "UnavailableError",
    "UnknownProfileError",
    "UnreachableError",
    "UnsupportedError",
    "bounded",
    "cause_of",
    "sentence",
    "sentences",
]

_ENDINGS = ("?", "!", "…")

_E = TypeVar("_E", bound=BaseException)

MAX_MESSAGE_CHARS = 2_000


def cause_of(exc: BaseException, kind: type[_E]) -> _E | None:
    """The first exception of `kind` in `exc`'s chain of causes (itself included), else None. Libraries wrap what
    went wrong (the SDK a validation error, httpx an SSL error) in errors of their own."""
    seen: BaseException | None = exc
    for _ in range(10):  # a chain of causes is short; a cycle in one must not hang the caller
        if seen is None or isinstance(seen, kind):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def bounded(message: str, limit: int = MAX_MESSAGE_CHARS) -> str:
    """`message` in at most `limit` characters. A longer one is cut in the middle, and says how much was cut: its
    start says what failed, its end what to do."""
    if len(message) <= limit:
        return message
    # The marker's length depends on the number it carries; the number depends on how much room the marker takes.
    marker = f" … (cut: {len(message)} more characters) … "
    room = max(0, limit - len(marker))
    head, tail = room * 2 // 3, room - room * 2 // 3
    cut = len(message) - head - tail
    return f"{message[:head]} … (cut: {cut} more characters) … {message[len(message) - tail :] if tail else ''}"


def sentence(text: str) -> str:
    """`text` ending in exactly one full stop (a question, an exclamation or a cut-off "…" keeps its own mark)."""
    body = text.rstrip()
    while body.endswith("."):
        body = body[:-1].rstrip()
    if not body:
        return ""
    return body if body.endswith(_ENDINGS) else body + "."


def sentences(*parts: str) -> str:
    """The non-empty parts as sentences, one space apart (so no part's own full stop is ever doubled)."""
    return " ".join(s for s in (sentence(p) for p in parts) if s)


class RunbridgeError(Exception):
    """Base of every error runbridge raises on purpose. The message is curated: safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return sentence(self.message)


class ConfigError(RunbridgeError):
    """The configuration is missing or invalid; the message names the file, the key and the fix."""


class InputError(RunbridgeError):
    """The caller's arguments cannot be used."""


class UnknownProfileError(InputError):
    """No configured profile has that name."""


class CursorError(InputError):
    """A cursor that is not one runbridge gave out (garbled, from another list, or past the end).

    Pages and event streams silently restarting from the beginning would repeat (or skip) what the caller already
    saw; refusing lets the model start over on purpose. `call` names the tool to call without a cursor; the tools
    layer fills it in, since adapters do not know which tool asked.
    """

    def __init__(self, cursor: str, *, call: str | None = None) -> None:
        shown = cursor if len(cursor) <= 40 else cursor[:39] + "…"
        super().__init__(
            sentences(
                f"Invalid cursor {shown!r}: it is not one runbridge gave out",
                f"Call {call} without a cursor to start from the beginning"
                if call
                else "Ask again without a cursor to start from the beginning",
            )
        )
        self.cursor = cursor
        self.call = call

    def for_call(self, call: str) -> CursorError:
        """The same error, naming the tool to call again."""
        return CursorError(self.cursor, call=call)


class UnsupportedError(RunbridgeError):
    """The profile's backend does not offer this operation."""


class GateError(RunbridgeError):
    """The gate cannot be answered as asked. `closed` means it never can be again (answered elsewhere, run gone)."""

    def __init__(self, message: str, *, closed: bool = False) -> None:
        super().__init__(message)
        self.closed = closed


class BackendError(RunbridgeError):
    """The backend answered with an error status.

    `status` is the HTTP status, `code` the backend's own error code (e.g. `interrupt_not_found`), `request_id` the
    id the backend gave the request, for its operators. `retryable` says whether the same call may succeed later.
    """

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        backend: str = "",
        status: int | None = None,
        code: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.backend = backend
        self.status = status
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after

    def __str__(self) -> str:
        # The tags go before the final full stop: "Could not get the run: Run x not found (HTTP 404, not_found)."
        parts = [sentence(self.message).removesuffix(".")]
        tags = [t for t in (f"HTTP {self.status}" if self.status else "", self.code or "") if t]
        if tags:
            parts.append(f"({', '.join(tags)})")
        if self.request_id:
            parts.append(f"[request {self.request_id}]")
        return sentence(" ".join(parts))


class AuthError(BackendError):
    """401/403: the credentials are missing, wrong, expired, or lack a scope."""


class NotFoundError(BackendError):
    """404/410: no such run, workflow or gate (or it expired)."""


class ConflictError(BackendError):
    """409: the request clashes with the backend's current state."""


class BadRequestError(BackendError):
    """400/422: the backend rejected the request's content."""


class RateLimitedError(BackendError):
    """429: too many requests; `retry_after` seconds is the backend's hint."""

    retryable = True


class UnavailableError(BackendError):
    """5xx: the backend is failing or overloaded."""

    retryable = True


class TransportError(RunbridgeError):
    """No usable answer from the backend (refused, reset, timed out, broken stream)."""

    retryable = True


class BackendTimeoutError(TransportError):
    """A connect or read timeout expired."""


class UnreachableError(TransportError):
    """The connection was refused (after the client's couple of quick tries): the backend is off or elsewhere.

    Nothing is gained by reconnecting an event stream to it for seconds more: a stream gives up as fast as a plain
    request does."""


class StreamError(TransportError):
    """An event stream was malformed, oversized, or ended before its run did."""
