"""Stream faults as a system: the official MCP client → runbridge → a sandbox on 127.0.0.1 that cuts each run's
event stream at random points (seeded), slows its frames, sends only keep-alives for stretches longer than the
stream's read timeout, and slips malformed and oversized frames in.

For every family with a stream, 100 runs (concurrently, in batches): every event reaches the client exactly once
and in order — live, as progress notifications, compared with an undisturbed run of the same workflow — and
`runs_events` lists exactly what the sandbox recorded it emitted; every run ends as its workflow does. An oversized
frame ends the live watch, and the run's end is then read from its status (the result says so). Synapse v1 cannot
re-attach to a run's events: a run whose v1 stream is cut ends its call saying that, and how much of it was seen.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from faults_harness import (
    Followed,
    MakeSandbox,
    connect,
    follow_to_end,
    listed_events,
    profile_for,
    settings_for,
    structured,
    until,
)
from mcp import Client

from runbridge.sandbox import SandboxServer

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SEED = 20261123
RUNS = 100
BATCH = 25
# The stream's read timeout: far above the longest pause between two keep-alives on a loaded machine (the sandbox,
# runbridge and 25 streams share one event loop here, under coverage, beside other test workers), so that only a
# stream that really went silent reaches it.
READ_TIMEOUT = 1.5
QUIET_SECONDS = 1.8  # keep-alives only (every 20 ms), for longer than the stream's read timeout
OVERSIZED_BYTES = 1_100_000  # over the 1 MiB event limit
EXPECTED = {"quick-demo": "completed", "failing-demo": "failed"}
V1_NOTE = "Synapse v1 cannot re-attach"


@dataclass(frozen=True)
class Family:
    name: str
    variant: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


FAMILIES = {
    "openwop": Family("openwop"),
    "orchestrations-v2": Family("orchestrations", "scale", (("api_versions", ["v1", "v2"]),)),
    "orchagent": Family("orchagent"),
}


@dataclass
class Reference:
    """An undisturbed run of a workflow, as the client saw it and as the sandbox emitted it."""

    messages: list[str]
    types: list[str]
    emitted: list[str]


async def _start_args(client: Client, family: str, workflow: str, plan: dict[str, Any] | None) -> dict[str, Any]:
    """`runs_start` arguments for a run of `workflow` whose streams suffer `plan` (the sandbox reads its knobs from
    `inputs["_sandbox"]`; Synapse gets the inputs as its message)."""
    inputs = {"_sandbox": plan} if plan else {}
    if family != "orchagent":
        return {"target_id": workflow, "inputs": inputs}
    thread = structured(await client.call_tool("threads_create", {"spec": {"workflow": workflow}}))
    return {"target_id": thread["thread_id"], "message": "go", "inputs": inputs}


def _emitted(sandbox: SandboxServer, run_id: str) -> list[tuple[str, str]]:
    return sandbox.context.stats.emitted_events(run_id)


def _plan(rng: random.Random, events: int, *, oversized: bool = True) -> dict[str, Any]:
    """Stream faults for one run: one to three cuts (0 = before the first frame), sometimes slow frames, a
    keep-alive-only stretch, a malformed frame, an oversized frame."""
    plan: dict[str, Any] = {"drop_after": [rng.randint(0, events) for _ in range(rng.randint(1, 3))]}
    if rng.random() < 0.3:
        plan["slow_frame_seconds"] = 0.002
    if rng.random() < 0.2:
        plan["quiet_at"], plan["quiet_seconds"] = rng.randrange(events), QUIET_SECONDS
    if rng.random() < 0.3:
        plan["malformed_at"] = rng.randrange(events)
    if oversized and rng.random() < 0.1:
        plan["oversized_at"], plan["oversized_bytes"] = rng.randrange(1, events), OVERSIZED_BYTES
    return plan


async def _reference(client: Client, sandbox: SandboxServer, family: str, workflow: str) -> Reference:
    followed = await follow_to_end(client, await _start_args(client, family, workflow, None))
    assert (len(followed.calls), followed.final["status"]) == (1, EXPECTED[workflow]), followed.final
    listed = await listed_events(client, followed.run_id)
    emitted = _emitted(sandbox, followed.run_id)
    return Reference(followed.messages, [t for _, t in listed], [t for _, t in emitted])


async def _reference_error(client: Client, workflow: str) -> str | None:
    """The error an undisturbed Synapse run of `workflow` ends with (None when it completes)."""
    followed = await follow_to_end(client, await _start_args(client, "orchestrations", workflow, None))
    return followed.final.get("error")


def _key(family: str, seq: str) -> str:
    """The sandbox's key for an event cursor: Synapse v2 cursors are `<epoch ms>-<wire index>`."""
    return seq.rsplit("-", 1)[-1] if family == "orchestrations" else seq


def _check(
    family: str,
    followed: Followed,
    tail: list[tuple[str, str]],
    listed: list[tuple[str, str]],
    emitted: list[tuple[str, str]],
    ref: Reference,
    expected: str,
) -> None:
    final = followed.final
    assert (final["done"], final["status"]) == (True, expected), final
    assert followed.progress_increases_in_every_call()
    seen = followed.events_seen
    assert followed.messages == ref.messages[:seen], "live progress repeated, lost or reordered an event"
    if final["source"] == "stream":
        assert seen == len(ref.messages), "the run ended before every event was delivered"
        assert tail == []
    else:
        assert final["source"] == "status", final
        assert "read from its status" in final["note"]
        assert [t for _, t in tail] == ref.types[seen:], "the events after the cursor are not the rest of the run"
    assert [t for _, t in emitted] == ref.emitted, "the sandbox did not emit the whole run"
    assert [t for _, t in listed] == ref.types
    record = dict(emitted)
    keys = [int(_key(family, seq)) for seq, _ in listed]
    assert keys == sorted(set(keys)), "runs_events repeated or reordered an event"
    assert all(record.get(_key(family, seq)) == kind for seq, kind in listed), "listed an event never emitted"
    if family != "orchestrations":
        assert listed == emitted, "runs_events and the sandbox's record differ"


async def _one(
    client: Client,
    sandbox: SandboxServer,
    family: str,
    workflow: str,
    plan: dict[str, Any],
    ref: Reference,
    failures: list[str],
) -> Followed:
    followed = await follow_to_end(client, await _start_args(client, family, workflow, plan))
    final = followed.final
    tail = (
        await listed_events(client, followed.run_id, cursor=final.get("cursor")) if final["source"] == "status" else []
    )
    listed = await listed_events(client, followed.run_id)
    try:
        _check(family, followed, tail, listed, _emitted(sandbox, followed.run_id), ref, EXPECTED[workflow])
    except AssertionError as exc:
        failures.append(f"{followed.run_id} ({workflow}, faults {plan}): {exc}")
    return followed


@pytest.mark.parametrize("case", sorted(FAMILIES))
async def test_a_hundred_runs_with_cut_slow_quiet_malformed_and_oversized_streams_deliver_every_event_once(
    case: str, make_sandbox: MakeSandbox, sandbox_key_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    spec = FAMILIES[case]
    sandbox = make_sandbox(spec.name, variant=spec.variant)
    options = dict(spec.options)
    profile = profile_for(spec.name, sandbox, sandbox_key_env, stream_read_timeout=READ_TIMEOUT, options=options)
    rng = random.Random(f"{SEED}-{case}")
    workflows = [rng.choice(sorted(EXPECTED)) for _ in range(RUNS)]
    failures: list[str] = []
    done: list[Followed] = []
    async with connect(settings_for(profile)) as client:
        refs = {w: await _reference(client, sandbox, spec.name, w) for w in sorted(EXPECTED)}
        runs = [(w, _plan(rng, len(refs[w].emitted))) for w in workflows]
        sandbox.context.stats.reset()
        with caplog.at_level(logging.INFO, logger="runbridge"):
            for first in range(0, RUNS, BATCH):
                async with anyio.create_task_group() as tg:
                    for workflow, plan in runs[first : first + BATCH]:

                        async def run(workflow: str = workflow, plan: dict[str, Any] = plan) -> None:
                            ref = refs[workflow]
                            done.append(await _one(client, sandbox, spec.name, workflow, plan, ref, failures))

                        tg.start_soon(run)
    assert not failures, f"{len(failures)} of {RUNS} runs went wrong; first: {failures[0]}"
    stats = sandbox.stats()
    assert stats["runs_created"] == RUNS, "one backend run per start, whatever happened to its stream"
    assert stats["stream_drops"] >= RUNS, "the streams were not cut as planned"
    await until(lambda: sandbox.stats()["open_streams"] == 0, within=1.0)  # no connection left behind
    logged = [r.getMessage() for r in caplog.records]
    assert any("malformed event frame" in m or "not JSON" in m for m in logged), "no malformed frame was skipped"
    assert not any("read timeout" in m for m in logged), "a keep-alive-only stretch was taken for a dead stream"
    recovered = [f for f in done if f.final["source"] == "status"]
    assert recovered, "no oversized frame ended a live watch"
    assert all("byte limit" in f.final["note"] for f in recovered)


async def test_cut_synapse_v1_streams_say_the_run_cannot_be_followed_and_show_what_was_seen(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("orchestrations")
    profile = profile_for("orchestrations", sandbox, sandbox_key_env, stream_read_timeout=READ_TIMEOUT)
    rng = random.Random(f"{SEED}-v1")
    workflows = [rng.choice(sorted(EXPECTED)) for _ in range(30)]
    async with connect(settings_for(profile)) as client:
        refs = {w: await _reference(client, sandbox, "orchestrations", w) for w in sorted(EXPECTED)}
        ref_errors = {w: await _reference_error(client, w) for w in sorted(EXPECTED)}
        sandbox.context.stats.reset()
        # Cut after at least one frame: a stream cut before it names the run is another test's case.
        plans = [_plan(rng, len(refs[w].emitted), oversized=False) for w in workflows]
        for plan in plans:
            plan["drop_after"] = [max(1, plan["drop_after"][0])]
        results: list[tuple[str, Followed, dict[str, Any], dict[str, Any]]] = []
        async with anyio.create_task_group() as tg:
            for workflow, plan in zip(workflows, plans, strict=True):

                async def run(workflow: str = workflow, plan: dict[str, Any] = plan) -> None:
                    args = await _start_args(client, "orchestrations", workflow, plan)
                    followed = await follow_to_end(client, args)
                    page = structured(await client.call_tool("runs_events", {"run_id": followed.run_id}))
                    snapshot = structured(await client.call_tool("runs_get", {"run_id": followed.run_id}))
                    results.append((workflow, followed, page, snapshot))

                tg.start_soon(run)
    lost = 0
    for workflow, followed, page, snapshot in results:
        ref, final = refs[workflow], followed.final
        seen = followed.events_seen
        assert len(followed.calls) == 1, "a v1 run cannot be watched again once its stream is gone"
        assert [e["type"] for e in page["events"]] == ref.types[:seen]
        ended = ref.types[-1] in [t for _, t in _emitted(sandbox, followed.run_id)]
        if ended:
            assert (final["done"], final["status"], final["source"]) == (True, EXPECTED[workflow], "stream"), final
            # Also when cut between the run's end and the `final` after it: the failure's reason is kept.
            assert followed.messages == ref.messages
            assert final.get("error") == ref_errors[workflow], final
            continue
        assert followed.messages == ref.messages[:seen]
        lost += 1
        assert (final["done"], final["status"], final["source"]) == (False, "unknown", "lost"), final
        assert V1_NOTE in final["note"], final
        assert "runs_watch" not in final["next"], final
        assert snapshot["run"]["status"] == "unknown"
        assert snapshot["run"]["details"]["stream"] == "lost"
    assert lost >= 10, "too few streams were cut before their run's end to test anything"
    assert sandbox.stats()["runs_created"] == len(workflows)


async def test_a_run_end_the_stream_cannot_deliver_is_read_from_the_status_and_the_result_says_so(
    make_sandbox: MakeSandbox, sandbox_key_env: str
) -> None:
    sandbox = make_sandbox("openwop")
    profile = profile_for("openwop", sandbox, sandbox_key_env, stream_read_timeout=READ_TIMEOUT)
    async with connect(settings_for(profile)) as client:
        ref = await _reference(client, sandbox, "openwop", "quick-demo")
        last = len(ref.emitted) - 1
        # The host cuts every connection after the first before its first frame: the run's last event never comes.
        plan = {"drop_after": [last, 0, 0, 0, 0, 0]}
        cut = await follow_to_end(client, await _start_args(client, "openwop", "quick-demo", plan))
        # A watch from the last event of a run that is over: the host has nothing more to send.
        done = await follow_to_end(client, await _start_args(client, "openwop", "quick-demo", None))
        again = structured(
            await client.call_tool("runs_watch", {"run_id": done.run_id, "cursor": done.final.get("cursor")})
        )
    assert (cut.final["status"], cut.final["source"]) == ("completed", "status"), cut.final
    assert cut.messages[:last] == ref.messages[:last]
    assert "read from the run's status" in cut.messages[-1]
    assert (done.final["source"], again["status"], again["source"]) == ("stream", "completed", "status"), again
