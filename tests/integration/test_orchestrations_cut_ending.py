"""A Synapse v1 stream cut between `orchestration_complete` and the run-level `final` (docs/backends/orchestrations.md):
the run's end is kept with what the stream did show (its failure reason from the step that failed, the final state, the
steps seen), and says that the server's summary is missing. Real streams from the sandbox over loopback, cut by its
stream-cut knob at exactly that point."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import anyio
import pytest

from runbridge.backends.orchestrations import OrchestrationsBackend
from runbridge.core.config import Profile
from runbridge.core.models import EventKind, RunEvent, RunStatus, StartRequest
from runbridge.http import HttpClient, RetryPolicy, Secret
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

KEY = "sk-syn-SENTINEL-0000000000000000"
DEADLINE = 15.0
REASON = "Fetching the dataset failed: the upstream API answered 503 three times."


@pytest.fixture(scope="module")
def synapse() -> Iterator[SandboxServer]:
    with SandboxServer("orchestrations", api_key=KEY, keepalive_seconds=0.05) as server:
        yield server


@pytest.fixture
async def backend(synapse: SandboxServer) -> AsyncIterator[OrchestrationsBackend]:
    synapse.faults.clear()
    profile = Profile(
        name="synapse", family="orchestrations", base_url=synapse.base_url, read_timeout=5.0, connect_timeout=2.0
    )
    http = HttpClient(profile, secret=Secret(KEY), retry=RetryPolicy(attempts=2, base_delay=0.01, budget=1.0))
    async with anyio.create_task_group() as tasks:
        made = OrchestrationsBackend(profile, http, tasks=tasks)
        yield made
        await made.aclose()
        tasks.cancel_scope.cancel()


async def _run(backend: OrchestrationsBackend, target: str, faults: dict[str, Any] | None = None) -> list[RunEvent]:
    """Start `target` (with stream faults for this run only) and read its log to the end."""
    inputs = {"_sandbox": faults} if faults else {}
    events: list[RunEvent] = []
    with anyio.fail_after(DEADLINE):
        run = await backend.start_run(StartRequest(target_id=target, inputs=inputs))
        async for event in backend.watch(run.run_id):
            events.append(event)
    return events


def _state(end: RunEvent) -> dict[str, Any]:
    """The run's final state, less the message (which carries the stream-cut plan)."""
    state = dict(end.data["outputs"]["shared_state"])
    return {k: v for k, v in state.items() if k not in ("user_input", "user_query")}


async def _cut_after_complete(synapse: SandboxServer, backend: OrchestrationsBackend, target: str) -> int:
    """How many frames a stream of `target` sends up to and including `orchestration_complete`."""
    reference = await _run(backend, target)
    emitted = [t for _, t in synapse.context.stats.emitted_events(reference[0].run_id)]
    assert emitted[-2:] == ["orchestration_complete", "final"], emitted
    return len(emitted) - 1


async def test_a_failed_runs_reason_survives_a_cut_before_its_final_summary(
    synapse: SandboxServer, backend: OrchestrationsBackend
) -> None:
    whole = await _run(backend, "failing-demo")
    frames = await _cut_after_complete(synapse, backend, "failing-demo")
    cut = await _run(backend, "failing-demo", {"drop_after": [frames]})
    drops = synapse.stats()["stream_drops"]

    end, whole_end = cut[-1], whole[-1]
    assert drops >= 1, "the stream was cut"
    assert end.kind is EventKind.RUN_FAILED
    assert end.data["error"] == whole_end.data["error"] == REASON
    assert end.text == whole_end.text == f"run failed: {REASON}"
    assert end.data["summary"].startswith("missing: the stream ended before the server's final summary")
    assert "summary" not in whole_end.data
    assert _state(end) == _state(whole_end), "the final state is kept"
    assert _state(end)
    history = end.data["step_history"]
    assert [(h["step_id"], h["status"]) for h in history] == [("prepare", "completed"), ("fetch", "failed")]
    assert history[1]["error"] == REASON
    assert [e.kind for e in cut[:-1]] == [e.kind for e in whole[:-1]], "every event before the end as usual"

    run = await backend.get_run(end.run_id)
    assert (run.status, run.error) == (RunStatus.FAILED, REASON)
    assert run.details["stream"] == "closed"
    assert [h["step_id"] for h in run.details["step_history"]] == ["prepare", "fetch"]


async def test_a_completed_run_cut_before_its_summary_keeps_its_state_and_steps(
    synapse: SandboxServer, backend: OrchestrationsBackend
) -> None:
    whole = await _run(backend, "quick-demo")
    frames = await _cut_after_complete(synapse, backend, "quick-demo")
    cut = await _run(backend, "quick-demo", {"drop_after": [frames]})
    end = cut[-1]
    assert end.kind is EventKind.RUN_COMPLETED
    assert "error" not in end.data
    assert _state(end) == _state(whole[-1])
    assert end.data["outputs"]["response"] is None, "the response came only in the summary"
    assert {h["status"] for h in end.data["step_history"]} == {"completed"}
    assert "summary" in end.data


async def test_an_uncut_stream_is_read_as_before(backend: OrchestrationsBackend) -> None:
    end = (await _run(backend, "failing-demo"))[-1]
    assert end.data["error"] == REASON
    assert "summary" not in end.data
