"""The platform's HTTP layer (docs/backends/platform.md): the envelopes, the quota headers, rate limits, the
precondition errors, the paths where the platform's documentation and its CLI differ, and the workspace.

* **Envelopes.** A success may come as `{data, warnings?, metadata}` (agent calls, and every answer where the
  documented format is used) or bare (the management answers the official CLI reads); `Answer` holds both ways the
  same. Errors are `{error: {code, message, is_retryable, suggested_wait_time?}, metadata: {request_id}}`, read by
  the shared error mapping.
* **Quota.** `X-RateLimit-Limit/Remaining/Reset` are read on every answer (`Quota`); `Quota.note` says how many
  calls are left once they run low. A 429 without `Retry-After` gets one from `suggested_wait_time` or from
  `X-RateLimit-Reset`, so the shared client waits for it when that fits the call's budget and the profile's
  `max_rate_limit_wait_seconds` (its retry policy's longest pause, for reads as for writes); otherwise the error
  says when the limit resets. A write that met a 429 was not carried out, so it is tried again the same way.
  `is_retryable: false` is never retried.
* **Preconditions** (`errors.explain`): errors that only a person can fix say what they must do.
* **Paths that differ** are tried in order, the next one only on 404 or 405 (`first_of`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2

from ...core import budget
from ...core.config import Profile
from ...core.errors import BackendError, ConfigError, RateLimitedError, sentences
from ...http import HttpClient, RetryPolicy
from .errors import explain
from .spec import PlatformOptions

__all__ = ["PATHS", "Answer", "PlatformHttp", "Quota", "unwrap"]

# Where the platform's documentation and its official CLI name different paths for one thing, in the order tried.
PATHS: dict[str, tuple[tuple[str, str], ...]] = {
    "billing.balance": (("GET", "/billing/balance"), ("GET", "/billing/credits")),
    "billing.checkout": (("POST", "/billing/checkout"), ("POST", "/billing/add-credits")),
    "secrets.set": (("PUT", "/workspaces/{workspace}/secrets"), ("POST", "/workspaces/{workspace}/secrets")),
    "secrets.delete": (
        ("DELETE", "/workspaces/{workspace}/secrets/{name}"),
        ("DELETE", "/workspaces/{workspace}/secrets/{secret_id}"),
    ),
}
_WRITE_TRIES = 3  # a write refused with 429 is tried this often at most


def unwrap(doc: Any) -> tuple[Any, dict[str, Any], list[Any]]:
    """(data, metadata, warnings) of a success body, enveloped or bare."""
    if isinstance(doc, dict) and "data" in doc and ("metadata" in doc or "warnings" in doc):
        meta = doc.get("metadata")
        warnings = doc.get("warnings")
        return doc["data"], meta if isinstance(meta, dict) else {}, warnings if isinstance(warnings, list) else []
    return doc, {}, []


@dataclass
class Answer:
    """A success: its data (out of the envelope, if any), the envelope's metadata and warnings, and the headers."""

    data: Any
    metadata: dict[str, Any] = field(default_factory=dict[str, Any])
    warnings: list[Any] = field(default_factory=list[Any])
    headers: Mapping[str, str] = field(default_factory=dict[str, str])


def _int(value: str | None) -> int | None:
    try:
        return int(float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass
class Quota:
    """What the latest `X-RateLimit-*` headers said."""

    limit: int | None = None
    remaining: int | None = None
    reset: float | None = None  # Unix seconds

    def read(self, headers: httpx2.Headers) -> None:
        limit, remaining = _int(headers.get("x-ratelimit-limit")), _int(headers.get("x-ratelimit-remaining"))
        reset = _int(headers.get("x-ratelimit-reset"))
        if limit is not None:
            self.limit = limit
        if remaining is not None:
            self.remaining = remaining
        if reset is not None:
            self.reset = float(reset)

    def seconds_to_reset(self) -> float | None:
        return None if self.reset is None else max(0.0, self.reset - time.time())

    def resets_at(self) -> str | None:
        if self.reset is None:
            return None
        return datetime.fromtimestamp(self.reset, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

    def note(self, fraction: float) -> str | None:
        """ "12 of 1000 calls left ..." once the remaining quota is at or below `fraction` of the limit."""
        if self.limit is None or self.remaining is None or self.remaining > self.limit * fraction:
            return None
        when = self.resets_at()
        return sentences(
            f"{self.remaining} of {self.limit} calls left in this period on orchagent.io",
            f"The quota resets at {when}" if when else "",
        )


class _QuotaTransport(httpx2.AsyncBaseTransport):
    """Reads the quota headers of every answer, and gives a 429 the `Retry-After` its body or headers imply."""

    def __init__(self, inner: httpx2.AsyncBaseTransport, quota: Quota) -> None:
        self.inner = inner
        self.quota = quota

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        self.quota.read(response.headers)
        if response.status_code == 429 and "retry-after" not in response.headers:
            wait = self.quota.seconds_to_reset()
            if wait is not None:  # `suggested_wait_time` in the body, when there is one, still wins (error mapping)
                response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class PlatformHttp:
    """The platform's requests for one profile, through the shared client."""

    def __init__(self, profile: Profile, options: PlatformOptions, http: HttpClient | None = None) -> None:
        self.profile = profile
        self.options = options
        self.quota = Quota()
        if http is None:
            inner = httpx2.AsyncHTTPTransport(limits=httpx2.Limits(max_connections=2048, max_keepalive_connections=100))
            # A read waits out a 429 in the shared client, as long as the profile allows (a write, in `call`).
            wait = options.max_rate_limit_wait_seconds
            retry = RetryPolicy(
                attempts=profile.max_retries + 1, max_delay=wait, budget=max(RetryPolicy().budget, wait)
            )
            http = HttpClient(profile, transport=_QuotaTransport(inner, self.quota), retry=retry)
        self.http = http
        self._workspace: str | None = options.workspace_id

    async def aclose(self) -> None:
        await self.http.aclose()

    def explain(self, exc: BackendError) -> BackendError:
        """`exc` saying what to do: a precondition's remedy, or when a rate limit resets."""
        error = explain(exc, self.profile, self.options)
        if isinstance(error, RateLimitedError) and error.code in (None, "RATE_LIMITED"):
            when = self.quota.resets_at()
            if when and "resets at" not in error.message:
                error.message = sentences(error.message, f"The orchagent.io quota resets at {when}")
        return error

    async def call(
        self,
        method: str,
        path: str,
        *,
        action: str,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        anonymous: bool = False,
    ) -> Answer:
        """One request (a write met by a 429 tried again when the wait fits); its answer out of the envelope."""
        reads = method.upper() in ("GET", "HEAD")
        for attempt in range(_WRITE_TRIES):
            try:
                response = await self.http.request(
                    method, path, action=action, json=json, params=params, headers=headers, anonymous=anonymous
                )
            except RateLimitedError as exc:
                error = self.explain(exc)
                wait = error.retry_after if error.retry_after is not None else 1.0
                if reads or not error.retryable or attempt == _WRITE_TRIES - 1 or not self._fits(wait):
                    raise error from None
                await anyio.sleep(wait)
                continue
            except BackendError as exc:
                raise self.explain(exc) from None
            doc: Any = None
            if response.content:
                try:
                    doc = response.json()
                except ValueError:
                    raise BackendError(
                        f"Could not {action}: orchagent.io answered with a body that is not JSON",
                        backend=self.profile.family,
                        status=response.status_code,
                    ) from None
            data, metadata, warnings = unwrap(doc)
            return Answer(data, metadata, warnings, dict(response.headers))
        raise AssertionError("unreachable: the last try returns or raises")  # pragma: no cover

    def _fits(self, wait: float) -> bool:
        if wait > self.options.max_rate_limit_wait_seconds:
            return False
        left = budget.remaining()
        return left is None or wait + 0.5 < left

    async def first_of(
        self, routes: Sequence[tuple[str, str]], *, action: str, fill: Mapping[str, str] | None = None, **kwargs: Any
    ) -> Answer:
        """The first of `routes` (method, path template) that exists: the next is tried only on 404 or 405."""
        last: BackendError | None = None
        for method, template in routes:
            path = template.format(**(fill or {}))
            try:
                return await self.call(method, path, action=action, **kwargs)
            except BackendError as exc:
                if exc.status not in (404, 405):
                    raise
                last = exc
        assert last is not None, "first_of needs at least one route"
        raise last

    async def workspace(self) -> str:
        """The profile's workspace id: `options.workspace_id`, else the account's personal workspace (else its
        only one)."""
        if self._workspace:
            return self._workspace
        doc = (await self.call("GET", "/workspaces", action="list the account's workspaces")).data
        items = doc.get("workspaces") if isinstance(doc, dict) else doc
        spaces = (
            [w for w in items if isinstance(w, dict) and isinstance(w.get("id"), str)]
            if isinstance(items, list)
            else []
        )
        personal = [w for w in spaces if w.get("type") == "personal"]
        chosen = personal[0] if personal else spaces[0] if len(spaces) == 1 else None
        if chosen is None:
            names = ", ".join(f"{w.get('name') or w['id']} ({w['id']})" for w in spaces) or "none"
            raise ConfigError(
                f"Profile {self.profile.name!r}: say which orchagent.io workspace to use with options.workspace_id "
                f"(the key sees: {names})."
            )
        self._workspace = str(chosen["id"])
        return self._workspace
