"""Request shaping of the shared HTTP client: auth and user agent, retries, the retry budget, error mapping, redaction.

These are the only tests that use `httpx2.MockTransport`: they check what the client sends and how it reacts, not
a backend's behaviour (that is the sandbox's job).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import anyio
import httpx2
import pytest

import runbridge
from runbridge.core.config import Profile
from runbridge.core.errors import (
    AuthError,
    BackendError,
    BackendTimeoutError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    RunbridgeError,
    TransportError,
    UnavailableError,
)
from runbridge.core.logs import register_secret
from runbridge.http.client import HttpClient
from runbridge.http.credentials import Secret
from runbridge.http.retry import RetryPolicy

pytestmark = pytest.mark.anyio

SECRET = "SENTINEL-SECRET-123"
INSTANT = RetryPolicy(attempts=3, base_delay=0, max_delay=0)

Reply = httpx2.Response | Exception


@dataclass
class Backend:
    """A scripted sequence of replies (the last one repeats) that records every request it receives."""

    replies: list[Reply]
    requests: list[httpx2.Request] = field(default_factory=list)

    def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        reply = self.replies[min(len(self.requests), len(self.replies)) - 1]
        if isinstance(reply, Exception):
            raise reply
        return reply


def make_client(backend: Callable[[httpx2.Request], httpx2.Response], *, policy: RetryPolicy = INSTANT) -> HttpClient:
    profile = Profile(name="test", family="openwop", base_url="http://backend.test/api")
    return HttpClient(
        profile, secret=Secret(SECRET, "$TEST_KEY"), retry=policy, transport=httpx2.MockTransport(backend)
    )


def ok(body: Any = None) -> httpx2.Response:
    return httpx2.Response(200, json=body if body is not None else {"ok": True})


class BrokenBody(httpx2.AsyncByteStream):
    def __init__(self, chunks: Iterable[bytes], error: Exception) -> None:
        self.chunks = list(chunks)
        self.error = error

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        raise self.error


async def call(client: HttpClient, method: str = "GET", path: str = "/v1/runs/r1", **kwargs: Any) -> Any:
    with anyio.fail_after(5):
        try:
            return await client.json(method, path, action="get the run", **kwargs)
        finally:
            await client.aclose()


# -- what every request carries ------------------------------------------------------------------------------------


async def test_every_request_carries_the_bearer_secret_and_the_runbridge_user_agent() -> None:
    backend = Backend([httpx2.Response(503), ok()])
    assert await call(make_client(backend)) == {"ok": True}
    assert len(backend.requests) == 2
    for request in backend.requests:
        assert request.headers["Authorization"] == f"Bearer {SECRET}"
        assert request.headers["User-Agent"] == f"runbridge/{runbridge.__version__}"
        assert request.url == "http://backend.test/api/v1/runs/r1"


async def test_a_profile_without_a_secret_sends_no_authorization_header() -> None:
    backend = Backend([ok()])
    profile = Profile(name="anon", family="openwop", base_url="http://backend.test")
    client = HttpClient(profile, secret=Secret(""), retry=INSTANT, transport=httpx2.MockTransport(backend))
    await call(client)
    assert "Authorization" not in backend.requests[0].headers


async def test_per_request_headers_are_added_to_the_defaults() -> None:
    backend = Backend([ok()])
    await call(make_client(backend), headers={"Last-Event-ID": "41"})
    assert backend.requests[0].headers["Last-Event-ID"] == "41"
    assert backend.requests[0].headers["Authorization"] == f"Bearer {SECRET}"


# -- retries -------------------------------------------------------------------------------------------------------


async def test_a_get_answered_429_then_200_is_retried_and_succeeds() -> None:
    backend = Backend([httpx2.Response(429, headers={"Retry-After": "0"}), ok({"runId": "r1"})])
    assert await call(make_client(backend)) == {"runId": "r1"}
    assert len(backend.requests) == 2


@pytest.mark.parametrize("status", [502, 503, 504])
async def test_a_get_answered_with_a_gateway_error_is_retried(status: int) -> None:
    backend = Backend([httpx2.Response(status), ok()])
    assert await call(make_client(backend)) == {"ok": True}
    assert len(backend.requests) == 2


@pytest.mark.parametrize("status", [400, 401, 404, 409, 500, 501])
async def test_a_get_answered_with_a_status_that_will_not_change_is_not_retried(status: int) -> None:
    backend = Backend([httpx2.Response(status), ok()])
    with pytest.raises(BackendError) as caught:
        await call(make_client(backend))
    assert caught.value.status == status
    assert len(backend.requests) == 1


async def test_a_post_answered_503_is_not_retried_by_default() -> None:
    backend = Backend([httpx2.Response(503), httpx2.Response(201, json={"runId": "r1"})])
    with pytest.raises(UnavailableError):
        await call(make_client(backend), "POST", "/v1/runs", json={"workflowId": "w"})
    assert len(backend.requests) == 1


async def test_a_post_marked_retry_is_retried_with_the_same_idempotency_key_every_time() -> None:
    backend = Backend([httpx2.Response(503), httpx2.Response(429), httpx2.Response(201, json={"runId": "r1"})])
    client = make_client(backend)
    result = await call(
        client, "POST", "/v1/runs", json={"workflowId": "w"}, headers={"Idempotency-Key": "key-1"}, retry=True
    )
    assert result == {"runId": "r1"}
    assert [r.headers["Idempotency-Key"] for r in backend.requests] == ["key-1", "key-1", "key-1"]
    assert [r.content for r in backend.requests] == [b'{"workflowId":"w"}'] * 3


async def test_attempts_are_bounded_by_the_policy_and_the_last_error_is_the_mapped_one() -> None:
    backend = Backend([httpx2.Response(503, json={"error": "service_unavailable", "message": "Engine restarting"})])
    with pytest.raises(UnavailableError) as caught:
        await call(make_client(backend, policy=RetryPolicy(attempts=4, base_delay=0, max_delay=0)))
    assert len(backend.requests) == 4
    assert caught.value.status == 503
    assert caught.value.code == "service_unavailable"
    assert caught.value.message == "Could not get the run: Engine restarting. Gave up after 4 tries. Try again later."


async def test_the_retry_budget_stops_a_retry_whose_retry_after_would_exceed_it() -> None:
    backend = Backend([httpx2.Response(429, headers={"Retry-After": "10"}), ok()])
    policy = RetryPolicy(attempts=5, base_delay=0, max_delay=100, budget=5)
    with pytest.raises(RateLimitedError) as caught:
        await call(make_client(backend, policy=policy))
    assert len(backend.requests) == 1
    assert caught.value.retry_after == 10.0


async def test_a_backend_that_says_the_error_is_not_retryable_is_not_retried() -> None:
    body = {"error": {"code": "SANDBOX_ERROR", "message": "agent code failed", "is_retryable": False}}
    backend = Backend([httpx2.Response(503, json=body), ok()])
    with pytest.raises(UnavailableError) as caught:
        await call(make_client(backend))
    assert len(backend.requests) == 1
    assert caught.value.retryable is False


async def test_a_retry_after_of_one_second_makes_the_client_wait_at_least_that_long() -> None:
    backend = Backend([httpx2.Response(429, headers={"Retry-After": "1"}), ok()])
    client = make_client(backend, policy=RetryPolicy(attempts=2, base_delay=0, max_delay=5))
    start = anyio.current_time()
    assert await call(client) == {"ok": True}
    assert anyio.current_time() - start >= 1.0
    assert len(backend.requests) == 2


async def test_a_connect_error_is_retried_even_for_a_post_because_nothing_was_sent() -> None:
    backend = Backend([httpx2.ConnectError("connection refused"), httpx2.Response(201, json={"runId": "r1"})])
    assert await call(make_client(backend), "POST", "/v1/runs", json={}) == {"runId": "r1"}
    assert len(backend.requests) == 2


async def test_a_connect_timeout_is_retried_even_for_a_post() -> None:
    backend = Backend([httpx2.ConnectTimeout("slow"), httpx2.Response(201, json={"runId": "r1"})])
    assert await call(make_client(backend), "POST", "/v1/runs", json={}) == {"runId": "r1"}


async def test_a_read_error_after_a_post_was_sent_is_not_retried() -> None:
    backend = Backend([httpx2.ReadError("connection reset"), httpx2.Response(201, json={"runId": "r1"})])
    with pytest.raises(TransportError, match="connection failed"):
        await call(make_client(backend), "POST", "/v1/runs", json={})
    assert len(backend.requests) == 1


async def test_a_read_error_on_a_get_is_retried() -> None:
    backend = Backend([httpx2.ReadError("connection reset"), ok()])
    assert await call(make_client(backend)) == {"ok": True}


async def test_a_connection_that_never_opens_ends_in_a_transport_error_naming_the_url() -> None:
    backend = Backend([httpx2.ConnectError("connection refused")])
    with pytest.raises(TransportError, match=r"not reachable at http://backend\.test/api") as caught:
        await call(make_client(backend))
    assert len(backend.requests) == 3
    assert not isinstance(caught.value, BackendTimeoutError)
    assert "Check that the backend is running" in caught.value.message
    assert "Try again later" not in caught.value.message


async def test_a_refused_connection_gets_a_couple_of_quick_tries_under_the_default_policy() -> None:
    backend = Backend([httpx2.ConnectError("connection refused")] * 10)
    client = make_client(backend, policy=RetryPolicy())  # five tries for anything else
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        await call(client, "POST", "/v1/runs", json={})
    elapsed = time.monotonic() - started
    assert len(backend.requests) == 3, "nothing was sent, so even a write is tried again, but only twice"
    assert 0.3 <= elapsed < 1.0, "0.1 s, then 0.2 s: well under a second in all"
    assert caught.value.message == (
        "Could not get the run: the backend is not reachable at http://backend.test/api. Gave up after 3 tries. "
        "Check that the backend is running (and that the profile's base_url is right), then try again."
    )


async def test_a_profile_without_retries_tries_a_refused_connection_once() -> None:
    backend = Backend([httpx2.ConnectError("connection refused")] * 3)
    with pytest.raises(TransportError, match="not reachable"):
        await call(make_client(backend, policy=RetryPolicy(attempts=1)))
    assert len(backend.requests) == 1


async def test_a_read_timeout_ends_in_a_backend_timeout_error() -> None:
    backend = Backend([httpx2.ReadTimeout("no answer")])
    with pytest.raises(BackendTimeoutError, match="did not answer in time"):
        await call(make_client(backend))
    assert len(backend.requests) == 3


async def test_a_body_that_breaks_while_being_read_raises_from_the_error_tree() -> None:
    broken = httpx2.Response(
        200, headers={"content-type": "application/json"}, stream=BrokenBody([b'{"a'], httpx2.ReadError("reset"))
    )
    backend = Backend([broken])
    with pytest.raises(RunbridgeError) as caught:
        await call(make_client(backend))
    assert isinstance(caught.value, TransportError)
    assert not isinstance(caught.value, httpx2.HTTPError)


async def test_a_body_that_times_out_while_being_read_raises_a_backend_timeout_error() -> None:
    slow = httpx2.Response(200, stream=BrokenBody([b'{"a'], httpx2.ReadTimeout("stalled")))
    with pytest.raises(BackendTimeoutError):
        await call(make_client(Backend([slow])))


async def test_a_2xx_body_that_is_not_json_is_a_backend_error() -> None:
    backend = Backend([httpx2.Response(200, text="<html>hello</html>")])
    with pytest.raises(BackendError, match="not JSON") as caught:
        await call(make_client(backend))
    assert "<html>" not in str(caught.value)


async def test_an_empty_2xx_body_is_none() -> None:
    assert await call(make_client(Backend([httpx2.Response(204)])), "DELETE", "/v1/runs/r1") is None


# -- what errors may contain ---------------------------------------------------------------------------------------


async def test_an_error_that_echoes_the_secret_has_it_redacted() -> None:
    body = {"error": "unauthenticated", "message": f"Key {SECRET} is revoked", "details": {"correlationId": "c-1"}}
    backend = Backend([httpx2.Response(401, json=body)])
    with pytest.raises(AuthError) as caught:
        await call(make_client(backend))
    assert SECRET not in str(caught.value)
    assert SECRET not in repr(caught.value)
    assert "Key *** is revoked" in str(caught.value)


async def test_a_secret_echoed_at_the_truncation_point_leaves_no_fragment_behind() -> None:
    body = {"error": "unauthenticated", "message": "a" * 290 + SECRET}
    backend = Backend([httpx2.Response(401, json=body)])
    with pytest.raises(AuthError) as caught:
        await call(make_client(backend))
    assert "SENTINEL" not in str(caught.value)


async def test_a_secret_echoed_in_the_code_or_request_id_is_redacted() -> None:
    body = {"error": f"bad_key:{SECRET}", "message": "no", "details": {"correlationId": f"corr-{SECRET}"}}
    backend = Backend([httpx2.Response(403, json=body, headers={"X-Request-Id": SECRET})])
    with pytest.raises(AuthError) as caught:
        await call(make_client(backend))
    assert SECRET not in str(caught.value)
    assert SECRET not in (caught.value.code or "")
    assert SECRET not in (caught.value.request_id or "")


async def test_a_404_of_a_named_thing_says_no_such_thing_has_that_id_and_hides_a_sent_secret() -> None:
    sent = "SENTINEL-THREAD-SECRET-456"
    register_secret(sent)
    body = {"error": "not_found", "message": f"no thread for {sent}"}
    client = make_client(Backend([httpx2.Response(404, json=body)]))
    with pytest.raises(NotFoundError) as caught:
        await client.json("GET", "/threads/t1", action="read the thread", what="thread")
    assert "no thread for ***. No thread with that id on http://backend.test/api (HTTP 404" in str(caught.value)
    assert sent not in str(caught.value)
    assert sent not in repr(caught.value)
    client.not_found_scope = "for this account"
    with pytest.raises(NotFoundError) as scoped:
        await client.json("GET", "/threads/t1", action="read the thread", what="thread")
    assert "No thread with that id on http://backend.test/api for this account (HTTP 404" in str(scoped.value)


async def test_str_of_an_error_names_status_code_and_request_id_but_never_headers() -> None:
    body = {"error": "validation_error", "message": "workflowId is required", "details": {"correlationId": "corr-42"}}
    backend = Backend([httpx2.Response(400, json=body, headers={"X-Internal-Route": "route-header-value"})])
    with pytest.raises(BadRequestError) as caught:
        await call(make_client(backend), "POST", "/v1/runs", json={})
    text = str(caught.value)
    assert text == "Could not get the run: workflowId is required (HTTP 400, validation_error) [request corr-42]."
    for forbidden in ("route-header-value", "Bearer", SECRET, "runbridge/", "Authorization"):
        assert forbidden not in text


async def test_errors_do_not_chain_the_httpx2_exception() -> None:
    backend = Backend([httpx2.ConnectError(f"refused while sending Bearer {SECRET}")])
    with pytest.raises(TransportError) as caught:
        await call(make_client(backend))
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__
    assert SECRET not in str(caught.value)


# -- streaming -----------------------------------------------------------------------------------------------------


async def test_stream_opens_a_2xx_response_with_the_callers_headers_and_closes_it_after() -> None:
    events = httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=b"data: x\n\n")
    backend = Backend([httpx2.Response(503), events])
    client = make_client(backend)
    with anyio.fail_after(5):
        async with client.stream(
            "GET", "/v1/runs/r1/events", action="watch the run", headers={"Accept": "text/event-stream"}
        ) as response:
            assert response.status_code == 200
            assert await response.aread() == b"data: x\n\n"
        await client.aclose()
    assert response.is_closed
    assert backend.requests[-1].headers["Accept"] == "text/event-stream"
    assert len(backend.requests) == 2


async def test_stream_maps_an_error_status_before_the_caller_reads_anything() -> None:
    backend = Backend([httpx2.Response(404, json={"error": "not_found", "message": "No such run"})])
    client = make_client(backend)
    with anyio.fail_after(5), pytest.raises(BackendError, match="No such run"):
        async with client.stream("GET", "/v1/runs/nope/events", action="watch the run"):
            pytest.fail("an error response must not be handed to the caller")
    await client.aclose()


# -- a refused credential ------------------------------------------------------------------------------------------


async def test_a_401_says_where_the_refused_key_comes_from_and_that_only_a_person_can_fix_it() -> None:
    backend = Backend([httpx2.Response(401, json={"error": "unauthenticated", "message": "Bad key"})])
    with pytest.raises(AuthError) as caught:
        await call(make_client(backend))
    text = str(caught.value)
    assert text.startswith("Could not get the run: Bad key. The backend did not accept the key profile 'test' sends")
    assert "(from $TEST_KEY)" in text
    assert "runbridge doctor" in text
    assert "calling again will not help" in text
    assert text.endswith("(HTTP 401, unauthenticated).")
    assert SECRET not in text
    assert len(backend.requests) == 1


async def test_a_401_to_a_profile_without_a_credential_says_to_name_one() -> None:
    backend = Backend([httpx2.Response(401)])
    profile = Profile(name="anon", family="openwop", base_url="http://backend.test")
    client = HttpClient(profile, secret=Secret(""), retry=INSTANT, transport=httpx2.MockTransport(backend))
    with pytest.raises(AuthError, match=r"Profile 'anon' sends no credential: .*\(api_key_env or token_file\)"):
        await call(client)


async def test_a_403_keeps_the_backends_own_reason_without_the_401_hint() -> None:
    backend = Backend([httpx2.Response(403, json={"error": "forbidden", "message": "Missing scope runs:cancel"})])
    with pytest.raises(AuthError) as caught:
        await call(make_client(backend))
    assert "Missing scope runs:cancel" in str(caught.value)
    assert "did not accept the key" not in str(caught.value)
