"""Backend faults as a system: the official MCP client → runbridge → a sandbox on 127.0.0.1 that answers 429 and 503
storms with `Retry-After`, answers later than the profile's read timeout, or is not there at all (a closed port),
and fails a gate's answer or a stream's reconnection with 503.

What must hold: retries are bounded and spaced as the backend asks (measured from the sandbox's request log);
a run start that could create a second run is never retried; once retries are exhausted the tool error says what
happened and what to do (no stack trace, no key); and the sandbox creates exactly as many runs as the client started.
"""

from __future__ import annotations

import anyio
import pytest
from faults_harness import (
    MakeSandbox,
    assert_curated_error,
    closed_port,
    connect,
    gaps,
    profile_for,
    request_times,
    settings_for,
    structured,
)

from runbridge.sandbox import DEFAULT_API_KEY

pytestmark = pytest.mark.anyio

QUICK = {"max_retries": 2, "read_timeout": 0.3, "connect_timeout": 0.5}
SLACK = 0.5  # how much later than asked a retry may come on a loaded machine
V2 = {"options": {"api_versions": ["v1", "v2"]}}


def _statuses(times: list[tuple[float, int]]) -> list[int]:
    return [status for _, status in times]


async def test_a_429_storm_on_a_run_start_is_waited_out_as_asked_and_starts_one_run(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("openwop")
    sandbox.faults.burst(429, 3, retry_after=0.25, method="POST", path_prefix="/v1/runs")
    async with connect(settings_for(profile_for("openwop", sandbox, sandbox_key_env, max_retries=4))) as client:
        with anyio.fail_after(15):
            report = structured(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
    assert report["status"] == "completed"
    posts = request_times(sandbox, "POST /v1/runs")
    assert _statuses(posts) == [429, 429, 429, 201]
    assert all(0.25 <= gap < 0.25 + SLACK for gap in gaps(posts)), gaps(posts)
    assert sandbox.stats()["runs_created"] == 1


async def test_a_429_storm_longer_than_the_retries_is_a_clear_tool_error_after_bounded_spaced_tries(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("openwop")
    sandbox.faults.burst(429, 20, retry_after=0.25, method="POST", path_prefix="/v1/runs")
    async with connect(settings_for(profile_for("openwop", sandbox, sandbox_key_env, **QUICK))) as client:
        with anyio.fail_after(15):
            result = await client.call_tool("runs_start", {"target_id": "quick-demo"})
    text = assert_curated_error(result, DEFAULT_API_KEY)
    assert "Gave up after 3 tries" in text
    assert "wait 0.25 s before trying again" in text
    assert "HTTP 429" in text
    posts = request_times(sandbox, "POST /v1/runs")
    assert _statuses(posts) == [429, 429, 429], "max_retries = 2: three tries in all"
    assert all(0.25 <= gap < 0.25 + SLACK for gap in gaps(posts)), gaps(posts)
    assert sandbox.stats()["runs_created"] == 0


@pytest.mark.parametrize(
    ("family", "retry_after", "route"),
    [
        ("openwop", 0.25, "GET /v1/runs/{run_id}"),
        ("orchestrations", 1.0, "GET /api/v2/orchestrations/runs/{run_id}/status"),  # whole seconds on this wire
    ],
)
async def test_a_503_storm_on_reads_is_retried_as_asked_then_reported_and_the_next_read_works(
    family: str, retry_after: float, route: str, make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox(family, variant="scale" if family == "orchestrations" else None)
    extra = V2 if family == "orchestrations" else {}
    profile = profile_for(family, sandbox, sandbox_key_env, **{**QUICK, "max_retries": 1}, **extra)
    async with connect(settings_for(profile)) as client:
        with anyio.fail_after(15):
            run_id = structured(await client.call_tool("runs_start", {"target_id": "quick-demo"}))["run_id"]
            sandbox.context.stats.reset()
            sandbox.faults.burst(503, 2, retry_after=retry_after, method="GET", path_prefix="/")
            refused = await client.call_tool("runs_get", {"run_id": run_id})
            after = structured(await client.call_tool("runs_get", {"run_id": run_id}))
    text = assert_curated_error(refused, DEFAULT_API_KEY)
    assert "HTTP 503" in text
    assert "Gave up after 2 tries" in text
    assert f"wait {retry_after:g} s" in text
    reads = request_times(sandbox, route)
    assert _statuses(reads) == [503, 503, 200]
    assert retry_after <= gaps(reads)[0] < retry_after + SLACK
    assert after["run"]["status"] == "completed"


@pytest.mark.parametrize("family", ["orchestrations", "orchagent"])
async def test_run_starts_that_could_run_twice_are_not_retried_and_say_when_to_try_again(
    family: str, make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox(family, variant="scale" if family == "orchestrations" else None)
    extra = V2 if family == "orchestrations" else {}
    starts = 0
    async with connect(settings_for(profile_for(family, sandbox, sandbox_key_env, **QUICK, **extra))) as client:
        target = "quick-demo"
        if family == "orchagent":
            thread = structured(await client.call_tool("threads_create", {"spec": {"workflow": "quick-demo"}}))
            target = thread["thread_id"]
        sandbox.context.stats.reset()
        sandbox.faults.burst(429, 5, retry_after=1, method="POST")
        with anyio.fail_after(15):
            refused = await client.call_tool("runs_start", {"target_id": target, "message": "go"})
            sandbox.faults.clear()
            report = structured(await client.call_tool("runs_start", {"target_id": target, "message": "go"}))
            starts += 1
    text = assert_curated_error(refused, DEFAULT_API_KEY)
    assert "HTTP 429" in text
    assert "wait 1 s before trying again" in text
    assert "Gave up" not in text, "a start that could create a second run is never retried"
    assert sandbox.stats()["statuses"]["429"] == 1
    assert report["status"] == "completed"
    assert sandbox.stats()["runs_created"] == starts


async def test_a_read_slower_than_the_read_timeout_is_retried_a_bounded_number_of_times_then_reported(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("openwop")
    async with connect(settings_for(profile_for("openwop", sandbox, sandbox_key_env, **QUICK))) as client:
        run_id = structured(await client.call_tool("runs_start", {"target_id": "quick-demo"}))["run_id"]
        sandbox.context.stats.reset()
        sandbox.faults.slow(1.0, 3, method="GET", path_prefix=f"/v1/runs/{run_id}")
        started = anyio.current_time()
        with anyio.fail_after(15):
            result = await client.call_tool("runs_get", {"run_id": run_id})
        elapsed = anyio.current_time() - started
    text = assert_curated_error(result, DEFAULT_API_KEY)
    assert "did not answer in time" in text
    assert "Gave up after 3 tries" in text
    assert sandbox.stats()["requests"]["GET /v1/runs/{run_id}"] == 3
    assert 3 * 0.3 <= elapsed < 3.0, "three read timeouts and two short back-offs"


async def test_a_run_start_whose_answer_is_late_is_retried_with_its_idempotency_key_and_makes_one_run(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("openwop")
    sandbox.faults.slow(0.8, 1, method="POST", path_prefix="/v1/runs")
    async with connect(settings_for(profile_for("openwop", sandbox, sandbox_key_env, **QUICK))) as client:
        with anyio.fail_after(15):
            report = structured(await client.call_tool("runs_start", {"target_id": "quick-demo"}))
    assert report["status"] == "completed"
    assert sandbox.stats()["requests"]["POST /v1/runs"] == 2, "the late answer was given up on and asked again"
    assert sandbox.stats()["runs_created"] == 1, "the second try replayed the first one's run"


async def test_a_run_start_that_cannot_be_retried_and_times_out_says_it_may_have_started(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("orchestrations", variant="scale")
    sandbox.faults.slow(0.8, 1, method="POST", path_prefix="/api/v2/")
    async with connect(settings_for(profile_for("orchestrations", sandbox, sandbox_key_env, **QUICK, **V2))) as client:
        with anyio.fail_after(15):
            result = await client.call_tool("runs_start", {"target_id": "quick-demo", "message": "go"})
    text = assert_curated_error(result, DEFAULT_API_KEY)
    assert "did not answer in time" in text
    assert "may have done it anyway: check before trying again" in text
    stats = sandbox.stats()
    assert stats["requests"]["POST /api/v2/orchestrations/{orch_id}/run"] == 1
    assert stats["runs_created"] == 1, "the server did start it: one start, one run, and the error says it may have"


@pytest.mark.parametrize("family", ["openwop", "orchestrations", "orchagent"])
async def test_a_closed_port_is_a_clear_tool_error_after_a_few_quick_tries(family: str, sandbox_key_env: str) -> None:
    base_url = f"http://127.0.0.1:{closed_port()}"
    profile = profile_for(family, base_url, sandbox_key_env, **QUICK)
    tool, args = ("threads_create", {"spec": {}}) if family == "orchagent" else ("runs_start", {"target_id": "x"})
    async with connect(settings_for(profile)) as client:
        started = anyio.current_time()
        with anyio.fail_after(15):
            result = await client.call_tool(tool, args)
        elapsed = anyio.current_time() - started
    text = assert_curated_error(result, DEFAULT_API_KEY)
    assert f"the backend is not reachable at {base_url}" in text
    assert "Check that the backend is running" in text
    assert "Gave up after 3 tries" in text, "nothing was sent, so even a write is tried again"
    assert elapsed < 1.5, "a refused connection is retried twice, 0.1 s then 0.2 s apart, not with the full backoff"


async def test_a_stream_reconnection_answered_503_waits_as_asked_and_loses_no_event(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("openwop")
    run = sandbox.call(sandbox.engine.start_run, "quick-demo", {"_sandbox": {"drop_after": [3]}})
    sandbox.faults.burst(503, 2, retry_after=0.25, method="GET", path_prefix=f"/v1/runs/{run.id}/events")
    async with connect(settings_for(profile_for("openwop", sandbox, sandbox_key_env))) as client:
        with anyio.fail_after(15):
            report = structured(await client.call_tool("runs_watch", {"run_id": run.id}))
    emitted = sandbox.context.stats.emitted_events(run.id)
    assert report["status"] == "completed"
    assert report["events_seen"] == len(emitted)
    assert report["cursor"] == emitted[-1][0]
    streams = request_times(sandbox, "GET /v1/runs/{run_id}/events")
    assert _statuses(streams) == [503, 503, 200, 200], "refused twice, then the stream, then its reconnection"
    assert all(0.25 <= gap < 0.25 + SLACK for gap in gaps(streams)[:2]), gaps(streams)


async def test_a_gate_answer_refused_with_503_is_retried_as_asked_and_resumes_the_run_once(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("openwop")
    async with connect(settings_for(profile_for("openwop", sandbox, sandbox_key_env, **QUICK))) as client:
        with anyio.fail_after(15):
            waiting = structured(await client.call_tool("runs_start", {"target_id": "approval-demo"}))
            gate_id = waiting["waiting_for"]["gate_id"]
            sandbox.faults.burst(503, 2, retry_after=0.25, method="POST", path_prefix=f"/v1/runs/{waiting['run_id']}/")
            report = structured(await client.call_tool("gates_respond", {"gate_id": gate_id, "decision": "accept"}))
    assert report["status"] == "completed"
    answers = request_times(sandbox, "POST /v1/runs/{run_id}/interrupts/{node_id}")
    assert _statuses(answers) == [503, 503, 200]
    assert all(0.25 <= gap < 0.25 + SLACK for gap in gaps(answers)), gaps(answers)
    assert sandbox.stats()["resolves"] == 1


@pytest.mark.parametrize("family", ["openwop", "orchestrations"])
async def test_a_gate_answer_that_keeps_failing_is_a_clear_error_and_the_gate_stays_answerable(
    family: str, make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox(family, variant="scale" if family == "orchestrations" else None)
    extra = V2 if family == "orchestrations" else {}
    target, values = ("approval-demo", {}) if family == "openwop" else ("orch-research-report", {"decision": "approve"})
    answer = {"decision": "accept", "values": values}
    async with connect(settings_for(profile_for(family, sandbox, sandbox_key_env, **QUICK, **extra))) as client:
        with anyio.fail_after(15):
            waiting = structured(await client.call_tool("runs_start", {"target_id": target, "message": "go"}))
            gate_id = waiting["waiting_for"]["gate_id"]
            sandbox.faults.burst(503, 20, retry_after=0.25, method="POST", path_prefix="/")
            refused = await client.call_tool("gates_respond", {"gate_id": gate_id, **answer})
            still_open = structured(await client.call_tool("gates_list", {}))
            sandbox.faults.clear()
            report = structured(await client.call_tool("gates_respond", {"gate_id": gate_id, **answer}))
    text = assert_curated_error(refused, DEFAULT_API_KEY)
    assert "HTTP 503" in text
    # OpenWOP answers carry an idempotency key, so they are retried; a Synapse resume is not (it has none).
    assert ("Gave up after 3 tries" in text) is (family == "openwop")
    assert gate_id in [g["gate_id"] for g in still_open["gates"]]
    assert report["status"] == "completed"
    assert sandbox.stats()["resolves"] == 1, "the run was resumed once"
