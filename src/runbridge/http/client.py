"""The one HTTP client: pooled connections per profile, auth, timeouts, retries, and error mapping.

Reads are retried on 429/502/503/504 and on transport failures; writes only when the caller marks them safe
(the backend honours an `Idempotency-Key`), except that a connection that was never established is always safe to
try again because nothing was sent. A refused connection gets only a couple of quick tries (see `RetryPolicy`).

Within a tool call, every attempt and every pause before a retry fits in the call's budget (`core.budget`): an
attempt is cut at the deadline, and a retry that would not fit is not made.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2

from .. import __version__
from ..core import budget
from ..core.config import Profile
from ..core.errors import (
    BackendError,
    BackendTimeoutError,
    NotFoundError,
    RunbridgeError,
    TransportError,
    UnreachableError,
    sentences,
)
from ..core.logs import redact
from .credentials import Secret, load_secret
from .errors import error_for_response
from .retry import RETRY_STATUSES, RetryPolicy
from .tls import shared_tls_context, untrusted_certificate

__all__ = ["HttpClient"]

log = logging.getLogger("runbridge.http")

_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_NOTHING_SENT = (httpx2.ConnectError, httpx2.ConnectTimeout, httpx2.PoolTimeout)
_CHECK_RUNNING = "Check that the backend is running (and that the profile's base_url is right), then try again"
_MAX_ERROR_BODY = 64 * 1024
# Every watched run holds one connection for its event stream: the pool must not cap how many runs are watched.
_MAX_CONNECTIONS = 2048
# A try is not started with less of the call's budget left than this: it could not get an answer in time.
_MIN_TRY = 0.05


def _gave_up(
    message: str, attempt: int, *, unsure: bool = False, wait: float | None = None, advice: str | None = None
) -> str:
    """`message`, plus what a person (or a model) needs to decide what to do next: how often it was tried, whether
    the request may have taken effect anyway, and when the backend wants to be asked again (or `advice`)."""
    parts = [message.rstrip(". ")]
    if attempt:
        parts.append(f"Gave up after {attempt + 1} tries")
    if advice is not None:
        parts.append(advice)
    elif unsure:
        parts.append("The backend may have done it anyway: check before trying again")
    elif wait is not None:
        parts.append(f"The backend asks to wait {wait:g} s before trying again")
    else:
        parts.append("Try again later")
    return ". ".join(parts) + "."


class _OutOfBudget(Exception):
    """This tool call's time budget ran out during a try."""


def _left() -> float:
    """Seconds an operation may take within this call's budget (infinite outside a tool call)."""
    left = budget.remaining()
    return math.inf if left is None else left


def _fits(pause: float) -> bool:
    """Whether a pause, and a try after it, still fit in this call's budget (always outside a tool call)."""
    left = budget.remaining()
    return left is None or pause + _MIN_TRY < left


def _out_of_budget(action: str, attempt: int, *, unsure: bool, why: str | None = None) -> str:
    """The error when the call's time budget runs out: the host would otherwise give up on the call first."""
    current = budget.current()
    seconds = f"{current.seconds:g} s " if current is not None else ""
    cause = f" ({why})" if why else ""
    return _gave_up(
        f"Could not {action}: the backend did not answer within this call's {seconds}time budget{cause}",
        attempt,
        unsure=unsure,
        advice=None
        if unsure
        else "Check that the backend is up and answering (`runbridge doctor` tries every profile), then try again",
    )


def _rejected_hint(profile: Profile, secret: Secret) -> str:
    """What to do when the backend refuses the profile's credential (HTTP 401)."""
    if not secret:
        return (
            f"Profile {profile.name!r} sends no credential: a person must name one in its runbridge.toml table "
            "(api_key_env or token_file); calling again will not help"
        )
    return (
        f"The backend did not accept the key profile {profile.name!r} sends (from {secret.source}): a person must "
        "put a valid one there (`runbridge doctor` checks every profile); calling again will not help"
    )


class HttpClient:
    """An `httpx2.AsyncClient` for one profile, with the project's retry, timeout and error rules.

    `request` and `stream` raise only from the error tree; the credential never appears in what they raise.
    """

    def __init__(
        self,
        profile: Profile,
        *,
        secret: Secret | None = None,
        retry: RetryPolicy | None = None,
        transport: httpx2.AsyncBaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
        secret_header: str | None = None,
    ) -> None:
        """`secret_header`: the header the credential is sent in as it is (`x-api-key`), instead of
        `Authorization: Bearer <credential>`."""
        self.profile = profile
        self.secret = load_secret(profile) if secret is None else secret
        self.retry = retry or RetryPolicy(attempts=profile.max_retries + 1)
        # A family's own word on answers that never heal by asking again, whatever their status (Synapse's 503
        # "Scale mode is not enabled"): such an error is raised at once, never retried.
        self.permanent: Callable[[BackendError], bool] | None = None
        base_headers = {"User-Agent": f"runbridge/{__version__}", "Accept": "application/json"}
        self._secret_header = (secret_header or "authorization").lower()
        if self.secret and secret_header:
            base_headers[secret_header] = self.secret.value
        elif self.secret:
            base_headers["Authorization"] = f"Bearer {self.secret.value}"
        base_headers.update(headers or {})
        # What a 401 adds: where the credential it refused comes from, and that only a person can fix it.
        self.rejected_hint = _rejected_hint(profile, self.secret)
        # What `json(..., what=...)`'s 404 adds after the server's address, for a server whose ids are each
        # account's own ("for this account").
        self.not_found_scope = ""
        self._timeout = httpx2.Timeout(profile.read_timeout, connect=profile.connect_timeout)
        self._stream_timeout = httpx2.Timeout(profile.stream_read_timeout, connect=profile.connect_timeout)
        self._client = httpx2.AsyncClient(
            base_url=profile.base_url,
            headers=base_headers,
            timeout=self._timeout,
            transport=transport,
            verify=shared_tls_context(),
            limits=httpx2.Limits(max_connections=_MAX_CONNECTIONS, max_keepalive_connections=100),
            follow_redirects=False,
        )

    @property
    def backend(self) -> str:
        return self.profile.family

    async def aclose(self) -> None:
        await self._client.aclose()

    def url(self, path: str) -> str:
        """An absolute URL for `path` (which may already be absolute, as some hosts' `eventsUrl` is)."""
        return str(self._client.base_url.join(path))

    async def request(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
        anonymous: bool = False,
    ) -> httpx2.Response:
        """Send a request and return the 2xx response; `action` names the attempt in errors ("get the run").

        `anonymous` leaves the credential out, for public endpoints (discovery documents, signed-token links) that
        must not receive it.
        """
        async with self._send(
            method, path, action=action, json=json, params=params, headers=headers, retry=retry, anonymous=anonymous
        ) as r:
            try:
                with anyio.fail_after(_left()):
                    await r.aread()
            except (httpx2.TimeoutException, TimeoutError):
                raise BackendTimeoutError(f"Could not {action}: the backend stopped sending its answer.") from None
            except httpx2.TransportError as exc:
                raise TransportError(f"Could not {action}: {self._describe(exc)} while reading the answer.") from None
            return r

    async def json(self, method: str, path: str, *, action: str, what: str = "", **kwargs: Any) -> Any:
        """`request`, then the decoded JSON body (None for an empty body).

        `what` names the thing `path` is about ("thread"): a 404 then says that no such thing has that id here. Every
        error it raises has the secrets runbridge knows scrubbed from its message (a server may echo what it was
        sent)."""
        try:
            response = await self.request(method, path, action=action, **kwargs)
        except NotFoundError as exc:
            if what:
                where = " ".join(w for w in (self.profile.base_url, self.not_found_scope) if w)
                exc.message = sentences(exc.message, f"No {what} with that id on {where}")
            exc.message = redact(exc.message)
            exc.args = (exc.message,)
            raise
        except RunbridgeError as exc:
            exc.message = redact(exc.message)
            exc.args = (exc.message,)
            raise
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise BackendError(
                f"Could not {action}: the backend answered with a body that is not JSON",
                backend=self.backend,
                status=response.status_code,
            ) from None

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        retry: bool | None = None,
    ) -> AsyncGenerator[httpx2.Response]:
        """Open a streaming response (2xx only); the body is read by the caller, under the stream read timeout."""
        async with self._send(
            method, path, action=action, json=json, params=params, headers=headers, retry=retry, streaming=True
        ) as response:
            yield response

    @asynccontextmanager
    async def _send(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        retry: bool | None,
        streaming: bool = False,
        anonymous: bool = False,
    ) -> AsyncGenerator[httpx2.Response]:
        method = method.upper()
        may_retry = retry if retry is not None else method in _READ_METHODS
        request = self._client.build_request(
            method,
            path,
            json=json,
            params=params,
            headers=headers,
            timeout=self._stream_timeout if streaming else self._timeout,
        )
        if anonymous and self._secret_header in request.headers:
            del request.headers[self._secret_header]
        waited = 0.0
        for attempt in range(self.retry.attempts):
            last = attempt == self.retry.attempts - 1
            try:
                response = await self._attempt(request)
            except _OutOfBudget:
                unsure = method not in _READ_METHODS
                raise BackendTimeoutError(_out_of_budget(action, attempt, unsure=unsure)) from None
            except httpx2.TimeoutException as exc:
                unsure = method not in _READ_METHODS and not isinstance(exc, _NOTHING_SENT)
                delay = self._delay(attempt, waited)
                if not last and waited < self.retry.budget and (may_retry or isinstance(exc, _NOTHING_SENT)):
                    if not _fits(delay):
                        raise BackendTimeoutError(_out_of_budget(action, attempt, unsure=unsure)) from None
                    waited += await self._pause(delay, f"{action}: timeout")
                    continue
                message = _gave_up(f"Could not {action}: the backend did not answer in time", attempt, unsure=unsure)
                raise BackendTimeoutError(message) from None
            except httpx2.ConnectError as exc:
                untrusted = untrusted_certificate(exc)
                if untrusted is not None:  # asking again meets the same certificate
                    raise TransportError(
                        f"Could not {action}: the TLS certificate of {self.profile.base_url} is not trusted "
                        f"({untrusted}). If the backend's certificate is signed by your own authority, point "
                        "$SSL_CERT_FILE at that authority's certificate (PEM) and start runbridge again."
                    ) from None
                # Refused (or no such host): nothing was sent, so even a write may be tried again, but only a
                # couple of times and quickly; a backend that is off says so at once, not after seconds of backoff.
                pause = self.retry.refused_pause(attempt)
                if attempt + 1 < self.retry.refused_tries() and waited < self.retry.budget and _fits(pause):
                    log.info("retrying in %.2fs (%s: the connection was refused)", pause, action)
                    await anyio.sleep(pause)
                    waited += pause
                    continue
                message = _gave_up(f"Could not {action}: {self._unreachable()}", attempt, advice=_CHECK_RUNNING)
                raise UnreachableError(message) from None
            except httpx2.TransportError as exc:
                unsure = method not in _READ_METHODS and not isinstance(exc, _NOTHING_SENT)
                delay = self._delay(attempt, waited)
                if not last and waited < self.retry.budget and (may_retry or isinstance(exc, _NOTHING_SENT)):
                    if not _fits(delay):
                        message = _out_of_budget(action, attempt, unsure=unsure, why=self._describe(exc))
                        raise TransportError(message) from None
                    waited += await self._pause(delay, f"{action}: {type(exc).__name__}")
                    continue
                message = _gave_up(f"Could not {action}: {self._describe(exc)}", attempt, unsure=unsure)
                raise TransportError(message) from None
            try:
                if response.status_code >= 300:  # redirects are not followed: a 3xx is not the answer asked for
                    content = await self._read_bounded(response)
                    error = error_for_response(
                        response.status_code,
                        response.headers,
                        content,
                        backend=self.backend,
                        action=action,
                        redact=self.secret.redact,
                    )
                    if self.permanent is not None and self.permanent(error):
                        error.retryable = False
                    delay = self.retry.delay(attempt, error.retry_after)
                    retryable = may_retry and not last and response.status_code in RETRY_STATUSES and error.retryable
                    # A server that asks for a longer pause than we allow gets a clear error now, not early retries.
                    asked_too_long = error.retry_after is not None and error.retry_after > self.retry.max_delay
                    fits = waited + delay <= self.retry.budget and _fits(delay)
                    if retryable and not asked_too_long and fits:
                        log.info("retrying in %.2fs (%s)", delay, error)
                        await anyio.sleep(delay)
                        waited += delay
                        continue
                    if response.status_code in RETRY_STATUSES and error.retryable:
                        error.message = _gave_up(error.message, attempt, wait=error.retry_after)
                    if response.status_code == 401 and self.rejected_hint:
                        error.message = sentences(error.message, self.rejected_hint)
                    raise error
                yield response
                return
            finally:
                await response.aclose()
        raise AssertionError("unreachable: the last attempt always returns or raises")  # pragma: no cover

    async def _attempt(self, request: httpx2.Request) -> httpx2.Response:
        """One try, cut at the call's deadline (`_OutOfBudget`); the profile's own timeouts apply within it."""
        left = budget.remaining()
        if left is None:
            return await self._client.send(request, stream=True)
        if left < _MIN_TRY:
            raise _OutOfBudget
        with anyio.move_on_after(left):
            return await self._client.send(request, stream=True)
        raise _OutOfBudget

    def _delay(self, attempt: int, waited: float) -> float:
        """The pause before the next try after a timeout or a broken connection (within the retry budget)."""
        return max(0.0, min(self.retry.delay(attempt), self.retry.budget - waited))

    async def _pause(self, delay: float, why: str) -> float:
        log.info("retrying in %.2fs (%s)", delay, why)
        await anyio.sleep(delay)
        return delay

    async def _read_bounded(self, response: httpx2.Response) -> bytes:
        """Read an error body, but never more than a small bound (a hostile server could send gigabytes)."""
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= _MAX_ERROR_BODY:
                    break
        except httpx2.TransportError:
            pass
        return b"".join(chunks)[:_MAX_ERROR_BODY]

    def _unreachable(self) -> str:
        return f"the backend is not reachable at {self.profile.base_url}"

    def _describe(self, exc: httpx2.TransportError) -> str:
        if isinstance(exc, httpx2.ConnectError):
            return f"{self._unreachable()}; check that it is running"
        return f"the connection failed ({type(exc).__name__})"
