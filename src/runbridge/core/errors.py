"""The one error tree of runbridge.

```text
RunbridgeError                 base; `str(err)` is safe to show to a person or a model
├── ConfigError                the configuration file or environment is wrong; the message says what to fix
├── InputError                 the caller's arguments are wrong (bad cursor, unknown target, wrong shape)
│   └── UnknownProfileError    no profile by that name
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
    ├── BackendTimeoutError    connect or read timed out
    └── StreamError            an event stream was malformed, oversized or ended too early
```

Errors carry the HTTP status, the backend's error code and request id: never a response body, a header or a
credential. The tools layer is the one place that turns them into MCP tool errors.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "BackendError",
    "BackendTimeoutError",
    "BadRequestError",
    "ConfigError",
    "ConflictError",
    "GateError",
    "InputError",
    "NotFoundError",
    "RateLimitedError",
    "RunbridgeError",
    "StreamError",
    "TransportError",
    "UnavailableError",
    "UnknownProfileError",
    "UnsupportedError",
]


class RunbridgeError(Exception):
    """Base of every error runbridge raises on purpose. The message is curated: safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(RunbridgeError):
    """The configuration is missing or invalid; the message names the file, the key and the fix."""


class InputError(RunbridgeError):
    """The caller's arguments cannot be used."""


class UnknownProfileError(InputError):
    """No configured profile has that name."""


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
        parts = [self.message]
        tags = [t for t in (f"HTTP {self.status}" if self.status else "", self.code or "") if t]
        if tags:
            parts.append(f"({', '.join(tags)})")
        if self.request_id:
            parts.append(f"[request {self.request_id}]")
        return " ".join(parts)


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


class StreamError(TransportError):
    """An event stream was malformed, oversized, or ended before its run did."""
