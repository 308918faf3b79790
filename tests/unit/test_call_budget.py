"""The pieces behind bounded time and bounded answers: the per-call budget (`core.budget`) and how the HTTP client
and the event-stream follower keep it, the one cut every error passes (`core.errors.bounded`), and the check of
arguments no schema states (`bridge.arguments.unusable_argument`)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx2
import pytest

from runbridge.bridge.arguments import unusable_argument
from runbridge.core import budget
from runbridge.core.config import Profile
from runbridge.core.errors import BackendTimeoutError, RateLimitedError, UnreachableError, bounded
from runbridge.http.client import HttpClient
from runbridge.http.credentials import Secret
from runbridge.http.retry import RetryPolicy
from runbridge.http.sse import follow

pytestmark = pytest.mark.anyio


# -- bounded ------------------------------------------------------------------------------------------------------


def test_a_short_message_is_left_whole() -> None:
    assert bounded("Could not get the run.") == "Could not get the run."
    assert bounded("x" * 2_000) == "x" * 2_000


@pytest.mark.parametrize("size", [2_001, 5_000, 100_177, 1_000_000])
def test_a_long_message_is_cut_in_the_middle_and_says_how_much(size: int) -> None:
    message = "START " + "x" * (size - 11) + " END."
    assert len(message) == size
    shown = bounded(message)
    assert len(shown) <= 2_000
    assert shown.startswith("START ")
    assert shown.endswith(" END.")  # what to do, at a message's end, survives the cut
    head, rest = shown.split(" … (cut: ", 1)
    cut = int(rest.split(" ", 1)[0])
    tail = rest.split(" more characters) … ", 1)[1]
    assert len(head) + cut + len(tail) == len(message)


# -- unusable_argument --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"path": "/tmp/a\x00b"}, "`path` holds a NUL byte"),
        ({"secrets_from_env": {"OPENAI\x00": "X"}}, "`secrets_from_env` has a key that holds a NUL byte"),
        ({"inputs": {"items": ["ok", "n\x00"]}}, "`inputs.items[1]` holds a NUL byte"),
        ({"message": "half a pair \ud83d"}, "`message` holds an unpaired UTF-16 surrogate"),
        ({"from_seq": 10**30}, "`from_seq` is too large a number"),
        ({"inputs": {"n": -(2**53)}}, "`inputs.n` is too large a number"),
        ({"wait_seconds": float("inf")}, "`wait_seconds` is not a finite number"),
    ],
)
def test_values_no_backend_can_take_are_named_never_echoed(arguments: dict[str, Any], said: str) -> None:
    problem = unusable_argument("some_tool", arguments)
    assert problem is not None
    assert said in problem, problem
    assert "Nothing was done" in problem
    assert "call some_tool again" in problem
    assert "\x00" not in problem
    assert "1000000000000000000000000000000" not in problem


def test_ordinary_arguments_pass() -> None:
    arguments = {
        "run_id": "run_1",
        "limit": 2**53 - 1,
        "done": True,
        "wait": 0.5,
        "inputs": {"emoji": "名前🙂", "nested": [{"k": -(2**53 - 1)}], "none": None},
    }
    assert unusable_argument("t", arguments) is None


# -- the budget ---------------------------------------------------------------------------------------------------


def test_outside_a_tool_call_there_is_no_budget() -> None:
    assert budget.remaining() is None
    assert budget.for_waiting(120.0) == 120.0


def test_the_wait_leaves_room_for_the_report_and_a_person_restarts_the_budget() -> None:
    with budget.call_budget(50.0) as current:
        assert current is not None
        assert 44.0 < budget.for_waiting(120.0) <= 45.0  # 5 s kept for the report
        assert budget.for_waiting(10.0) == 10.0
        current.deadline = time.monotonic() + 1.0  # as if 49 s were spent
        assert budget.for_waiting(10.0) == 0.0
        budget.restart()
        assert 49.0 < (budget.remaining() or 0) <= 50.0
    assert budget.remaining() is None


async def test_a_task_the_call_leaves_running_has_no_budget_once_the_call_ended() -> None:
    seen: list[float | None] = []
    ended = anyio.Event()

    async def outlives_the_call() -> None:  # as a Synapse v1 run stream does
        seen.append(budget.remaining())
        await ended.wait()
        seen.append(budget.remaining())

    async with anyio.create_task_group() as app_tasks:
        with budget.call_budget(0.01):
            app_tasks.start_soon(outlives_the_call)
            await anyio.wait_all_tasks_blocked()
        ended.set()
    assert seen[0] is not None
    assert seen[1] is None  # not "0 s left": requests it makes later keep the profile's own timeouts


def client(handler: Any, *, policy: RetryPolicy | None = None) -> HttpClient:
    profile = Profile(name="test", family="openwop", base_url="http://backend.test")
    return HttpClient(
        profile,
        secret=Secret("k", "$K"),
        retry=policy or RetryPolicy(attempts=5, base_delay=0.01, max_delay=30),
        transport=httpx2.MockTransport(handler),
    )


async def test_a_request_that_never_answers_ends_at_the_deadline_with_a_clear_error() -> None:
    async def never(_request: httpx2.Request) -> httpx2.Response:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    http = client(never)
    started = time.monotonic()
    with budget.call_budget(0.5), pytest.raises(BackendTimeoutError) as caught:
        await http.json("GET", "/runs/1", action="get the run")
    assert time.monotonic() - started < 1.0
    assert "did not answer within this call's 0.5 s time budget" in str(caught.value)
    await http.aclose()


async def test_a_retry_is_made_only_when_the_pause_fits_in_the_budget() -> None:
    seen: list[httpx2.Request] = []
    retry_after = "1"

    def busy(request: httpx2.Request) -> httpx2.Response:
        seen.append(request)
        return httpx2.Response(429, headers={"Retry-After": retry_after}, json={"error": "slow down"})

    http = client(busy)
    started = time.monotonic()
    with budget.call_budget(0.5), pytest.raises(RateLimitedError):
        await http.json("GET", "/runs/1", action="get the run")
    assert time.monotonic() - started < 0.5  # the backend asked for 1 s: no pause, no retry, an answer now
    assert len(seen) == 1
    seen.clear()
    retry_after = "0.01"
    with budget.call_budget(5), pytest.raises(RateLimitedError):
        await http.json("GET", "/runs/1", action="get the run")
    assert len(seen) == 5  # a pause that fits is made: the profile's own retries, all of them
    await http.aclose()


async def test_a_refused_stream_is_not_reconnected_for_seconds() -> None:
    opened: list[str | None] = []

    @asynccontextmanager
    async def refused(last_event_id: str | None) -> AsyncIterator[httpx2.Response]:
        opened.append(last_event_id)
        raise UnreachableError("Could not follow the run's events: the backend is not reachable.")
        yield httpx2.Response(200)  # pragma: no cover

    started = time.monotonic()
    with pytest.raises(UnreachableError):
        async for _ in follow(refused, decode=lambda _m: [], is_end=lambda _i: True):
            pass
    assert opened == [None]
    assert time.monotonic() - started < 0.1
