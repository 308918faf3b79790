"""The OpenWOP adapter when the host says no: rate limits and outages (retried, within bounds), and errors (mapped to
the error tree with messages a person can act on, never leaking the key, never a raw httpx2 exception)."""

from __future__ import annotations

import anyio
import pytest
from openwop_harness import (
    DEADLINE,
    SENTINEL_KEY,
    WRONG_KEY,
    Connect,
    MakeSandbox,
    RecordingTransport,
    closed_port,
    collect,
    is_gate,
    start,
)

from runbridge.core.errors import (
    AuthError,
    BackendError,
    GateError,
    NotFoundError,
    RateLimitedError,
    RunbridgeError,
    TransportError,
    UnavailableError,
    UnreachableError,
)
from runbridge.core.models import EventKind, GateAnswer, RunStatus, StartRequest
from runbridge.http import RetryPolicy
from runbridge.sandbox import VARIANTS, SandboxServer

pytestmark = pytest.mark.anyio

RUNS = "/v1/runs"


def _accept(decision: str = "accept") -> GateAnswer:
    return GateAnswer(decision="accept", values={"decision": decision})


# -- 7. retries -------------------------------------------------------------------------------------------------------


async def test_a_429_is_retried_after_the_retry_after_the_host_asked_for(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=2.0, budget=5.0))
    run = await start(backend, "quick-demo")
    sandbox.faults.burst(429, count=1, retry_after=1.0, method="GET", path_prefix=f"{RUNS}/{run.run_id}")
    started = anyio.current_time()
    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(run.run_id)
    assert anyio.current_time() - started >= 1.0
    assert snapshot.run_id == run.run_id
    stats = sandbox.stats()
    assert stats["statuses"]["429"] == 1
    assert stats["requests"]["GET /v1/runs/{run_id}"] == 2


async def test_a_503_burst_on_a_read_is_retried_until_it_succeeds(sandbox: SandboxServer, connect: Connect) -> None:
    backend = connect(sandbox)
    run = await start(backend, "quick-demo")
    sandbox.faults.burst(503, count=3, retry_after=0.01, method="GET", path_prefix=f"{RUNS}/{run.run_id}")
    with anyio.fail_after(DEADLINE):
        snapshot = await backend.get_run(run.run_id)
    assert snapshot.status is RunStatus.COMPLETED
    assert sandbox.stats()["statuses"]["503"] == 3
    assert sandbox.stats()["requests"]["GET /v1/runs/{run_id}"] == 4


async def test_a_503_burst_when_opening_the_event_stream_is_retried(sandbox: SandboxServer, connect: Connect) -> None:
    backend = connect(sandbox)
    run = await start(backend, "quick-demo")
    sandbox.faults.burst(503, count=2, retry_after=0.01, method="GET", path_prefix=f"{RUNS}/{run.run_id}/events")
    watched = await collect(backend, run.run_id)
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert sandbox.stats()["stream_connections"] == 1


@pytest.mark.parametrize("status", [429, 503])
async def test_starting_a_run_through_a_burst_retries_with_one_idempotency_key_and_creates_one_run(
    status: int, sandbox: SandboxServer, connect: Connect
) -> None:
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport)
    sandbox.faults.burst(status, count=2, retry_after=0.01, method="POST", path_prefix=RUNS)
    run = await start(backend, "quick-demo")
    assert run.run_id
    sent = transport.headers_of("POST", RUNS)
    assert len(sent) == 3
    keys = {h.get("idempotency-key") for h in sent}
    assert None not in keys
    assert len(keys) == 1, "every attempt carries the same Idempotency-Key"
    stats = sandbox.stats()
    assert stats["runs_created"] == 1
    assert stats["statuses"][str(status)] == 2


async def test_a_start_whose_answer_was_lost_after_the_host_created_the_run_is_not_duplicated(
    sandbox: SandboxServer, connect: Connect
) -> None:
    transport = RecordingTransport(lose_answers=1)
    backend = connect(sandbox, transport=transport)
    run = await start(backend, "quick-demo")
    sent = transport.headers_of("POST", RUNS)
    assert len(sent) == 2, "the lost answer made the client ask again"
    assert sent[0].get("idempotency-key") == sent[1].get("idempotency-key")
    assert sandbox.stats()["runs_created"] == 1, "the host replayed the first outcome instead of running again"
    with anyio.fail_after(DEADLINE):
        assert (await backend.get_run(run.run_id)).target_id == "quick-demo"


async def test_starting_twice_with_the_same_idempotency_key_gives_the_same_single_run(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    request = StartRequest(target_id="quick-demo", inputs={"n": 1}, idempotency_key="SENTINEL-idem-0001")
    with anyio.fail_after(DEADLINE):
        first = await backend.start_run(request)
        second = await backend.start_run(request)
        other = await backend.start_run(request.model_copy(update={"idempotency_key": "SENTINEL-idem-0002"}))
    assert first.run_id == second.run_id
    assert other.run_id != first.run_id
    assert sandbox.stats()["runs_created"] == 2


async def test_a_429_storm_longer_than_the_retries_ends_in_rate_limited_with_a_clear_message(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox, retry=RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.1))
    sandbox.faults.burst(429, count=50, retry_after=0.01, method="POST", path_prefix=RUNS)
    with anyio.fail_after(DEADLINE), pytest.raises(RateLimitedError) as caught:
        await start(backend, "quick-demo")
    error = caught.value
    assert error.status == 429
    assert error.code == "rate_limited"
    assert error.retryable
    assert str(error).startswith("Could not start the run: Too many requests")
    assert sandbox.stats()["requests"]["POST /v1/runs"] == 3
    assert sandbox.stats()["runs_created"] == 0


async def test_a_503_storm_that_outlasts_the_retry_budget_ends_in_unavailable(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox, retry=RetryPolicy(attempts=50, base_delay=0.01, max_delay=0.5, budget=0.25))
    run = await start(backend, "quick-demo")
    sandbox.faults.burst(503, count=100, retry_after=0.1, method="GET", path_prefix=f"{RUNS}/{run.run_id}")
    started = anyio.current_time()
    with anyio.fail_after(DEADLINE), pytest.raises(UnavailableError) as caught:
        await backend.get_run(run.run_id)
    assert anyio.current_time() - started < 1.0, "the budget bounds the waiting"
    assert caught.value.status == 503
    assert "temporarily unavailable" in str(caught.value)
    assert sandbox.stats()["requests"]["GET /v1/runs/{run_id}"] <= 4


async def test_a_retry_after_longer_than_the_client_will_wait_fails_at_once_with_the_hint(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox, retry=RetryPolicy(attempts=5, base_delay=0.01, max_delay=0.5))
    sandbox.faults.burst(429, count=1, retry_after=30, method="POST", path_prefix=RUNS)
    started = anyio.current_time()
    with anyio.fail_after(DEADLINE), pytest.raises(RateLimitedError) as caught:
        await start(backend, "quick-demo")
    assert anyio.current_time() - started < 1.0
    assert caught.value.retry_after == 30


# -- 8. errors ---------------------------------------------------------------------------------------------------------


async def test_a_wrong_key_is_an_auth_error_that_shows_neither_key(sandbox: SandboxServer, connect: Connect) -> None:
    assert sandbox.api_key == SENTINEL_KEY
    backend = connect(sandbox, key=WRONG_KEY)
    for call in (lambda: start(backend, "quick-demo"), lambda: backend.get_run("run_x")):
        with anyio.fail_after(DEADLINE), pytest.raises(AuthError) as caught:
            await call()
        error = caught.value
        assert error.status == 401
        assert error.code == "unauthenticated"
        for text in (str(error), repr(error), error.message, *map(str, error.args)):
            assert WRONG_KEY not in text
            assert SENTINEL_KEY not in text
        assert "check the profile" in str(error) or "API key" in str(error)
    assert sandbox.stats()["runs_created"] == 0


async def test_an_unknown_run_is_not_found_and_says_the_credentials_may_be_wrong(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    for call in (backend.get_run, backend.cancel_run):
        with anyio.fail_after(DEADLINE), pytest.raises(NotFoundError) as caught:
            await call("run_does_not_exist")
        assert caught.value.status == 404
        assert caught.value.code == "run_not_found"
        assert "credentials may be wrong" in str(caught.value)


async def test_an_unknown_workflow_at_start_is_not_found(sandbox: SandboxServer, connect: Connect) -> None:
    backend = connect(sandbox)
    with anyio.fail_after(DEADLINE), pytest.raises(NotFoundError) as caught:
        await start(backend, "no-such-workflow")
    assert caught.value.code == "workflow_not_found"
    assert sandbox.stats()["runs_created"] == 0


@pytest.mark.parametrize("variant", sorted(VARIANTS))
async def test_answering_a_gate_twice_is_a_closed_gate_error_whichever_status_the_host_uses(
    variant: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=variant)
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    gate = (await collect(backend, run.run_id, until=is_gate)).last.gate
    assert gate is not None
    with anyio.fail_after(DEADLINE):
        assert (await backend.resolve_gate(gate, _accept()))["resolved"] is True
    with anyio.fail_after(DEADLINE), pytest.raises(GateError) as caught:
        await backend.resolve_gate(gate, _accept())
    assert caught.value.closed is True
    assert "already answered" in str(caught.value)
    status = VARIANTS[variant].already_resolved_status
    assert sandbox.stats()["statuses"][str(status)] == 1
    assert sandbox.stats()["resolves"] == 1


async def test_an_action_outside_the_gate_is_refused_and_the_gate_stays_answerable(
    sandbox: SandboxServer, connect: Connect
) -> None:
    backend = connect(sandbox)
    run = await start(backend, "approval-demo")
    gate = (await collect(backend, run.run_id, until=is_gate)).last.gate
    assert gate is not None

    with anyio.fail_after(DEADLINE), pytest.raises(GateError) as refused_here:
        await backend.resolve_gate(gate, _accept("edit-accept"))
    assert refused_here.value.closed is False
    assert "decision must be one of" in str(refused_here.value)
    assert sandbox.stats()["requests"].get("POST /v1/runs/{run_id}/interrupts/{node_id}") is None

    # A gate that (wrongly) offers more than the host accepts: the host's 400 is a refusal, not a closed gate.
    widened = gate.model_copy(deep=True)
    widened.fields[0].options = [*(widened.fields[0].options or []), "escalate"]
    with anyio.fail_after(DEADLINE), pytest.raises(GateError) as refused_there:
        await backend.resolve_gate(widened, _accept("escalate"))
    assert refused_there.value.closed is False
    assert "rejected the answer" in str(refused_there.value)
    assert sandbox.stats()["statuses"]["400"] == 1

    with anyio.fail_after(DEADLINE):
        assert (await backend.get_run(run.run_id)).status is RunStatus.WAITING
        assert (await backend.resolve_gate(gate, _accept()))["resolved"] is True
    assert (await collect(backend, run.run_id, cursor=str(0))).last.kind is EventKind.RUN_COMPLETED


async def test_a_closed_port_is_a_transport_error_naming_the_base_url(connect: Connect) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    backend = connect(base_url)
    calls = (
        lambda: backend.get_run("run_x"),
        lambda: start(backend, "quick-demo"),
        lambda: backend.describe_target("quick-demo"),
    )
    for call in calls:
        with anyio.fail_after(DEADLINE), pytest.raises(RunbridgeError) as caught:
            await call()
        error = caught.value
        assert type(error) is UnreachableError, "a refused connection, not a backend answer"
        assert isinstance(error, TransportError)
        assert not isinstance(error, BackendError)
        assert base_url in str(error)
        assert error.__cause__ is None
        assert SENTINEL_KEY not in str(error)
