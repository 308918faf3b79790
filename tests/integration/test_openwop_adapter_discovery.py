"""The host's discovery document: read once and without the key, tolerated when missing or partial, and used where
it matters (the event size limit), never to refuse an operation by itself."""

from __future__ import annotations

import anyio
import pytest
from openwop_harness import DEADLINE, Connect, MakeSandbox, RecordingTransport, collect, is_gate, start

from runbridge.core.errors import StreamError
from runbridge.core.models import EventKind, GateAnswer, RunStatus
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

DISCOVERY = "GET /.well-known/openwop"


async def test_discovery_is_read_once_without_the_key_and_names_the_protocol_and_capabilities(
    sandbox: SandboxServer, connect: Connect
) -> None:
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport)
    with anyio.fail_after(DEADLINE):
        first = await backend.host_info()
        run = await start(backend, "quick-demo")
        await collect(backend, run.run_id)
        again = await backend.host_info()
    assert first == again
    assert first.available is True
    assert first.protocol_version == "1.0"
    assert {"eventPoll", "interrupts.tokens", "idempotency.supported"} <= set(first.capabilities)
    assert "replay.fork" not in first.capabilities, "the reference host's discovery denies fork"
    assert first.limits["maxNodeExecutions"] == 200
    assert sandbox.stats()["requests"][DISCOVERY] == 1, "cached for the adapter's lifetime"
    asked = transport.headers_of("GET", "/.well-known/openwop")
    assert len(asked) == 1
    assert "authorization" not in asked[0], "the public document is fetched without the credential"
    assert transport.headers_of("POST", "/v1/runs")[0]["authorization"].startswith("Bearer ")


@pytest.mark.parametrize(
    ("discovery", "note"),
    [("missing", "publishes no discovery document (HTTP 404)"), ("unavailable", "HTTP 503")],
)
async def test_a_host_without_discovery_still_runs_gates_and_forks_and_is_asked_only_once(
    discovery: str, note: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"discovery": discovery})
    backend = connect(sandbox)
    info = await backend.host_info()
    assert info.available is False
    assert info.note is not None
    assert note in info.note
    run = await start(backend, "approval-demo")

    async def accept(event: object) -> None:
        gate = getattr(event, "gate", None)
        if gate is not None:
            await backend.resolve_gate(gate, GateAnswer(decision="accept", values={"decision": "accept"}))

    watched = await collect(backend, run.run_id, on_event=accept)
    assert watched.last.kind is EventKind.RUN_COMPLETED
    with anyio.fail_after(DEADLINE):
        fork = await backend.fork_run(run.run_id)
    assert (await collect(backend, fork.run_id)).last.kind is EventKind.RUN_COMPLETED
    assert sandbox.stats()["requests"][DISCOVERY] == 1, "a failed discovery is not asked again on every watch"


async def test_a_partial_discovery_document_gives_what_it_has(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox(variant="strict-spec")
    backend = connect(sandbox)
    info = await backend.host_info()
    assert (info.available, info.protocol_version, info.capabilities, info.limits) == (True, "1.0", [], {})
    run = await start(backend, "quick-demo")
    assert (await collect(backend, run.run_id)).last.kind is EventKind.RUN_COMPLETED


async def test_a_larger_advertised_event_size_lets_a_big_frame_through(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"max_event_bytes": 4 * 1024 * 1024})
    backend = connect(sandbox)
    run = await start(backend, "quick-demo", _sandbox={"oversized_at": 3, "oversized_bytes": 2_000_000})
    watched = await collect(backend, run.run_id)
    assert watched.last.kind is EventKind.RUN_COMPLETED, "2 MB is within the 4 MiB the host advertised"


async def test_a_smaller_advertised_event_size_is_enforced(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox(variant={"max_event_bytes": 65_536})
    backend = connect(sandbox)
    run = await start(backend, "quick-demo", _sandbox={"oversized_at": 3, "oversized_bytes": 200_000})
    with pytest.raises(StreamError) as caught:
        await collect(backend, run.run_id)
    assert "65536 byte limit" in str(caught.value)


async def test_an_absurd_advertised_event_size_is_ignored(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox(variant={"max_event_bytes": 10})
    backend = connect(sandbox)
    run = await start(backend, "quick-demo")
    assert (await collect(backend, run.run_id)).last.kind is EventKind.RUN_COMPLETED


async def test_fork_is_tried_although_discovery_denies_it(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox()
    backend = connect(sandbox)
    assert "replay.fork" not in (await backend.host_info()).capabilities
    run = await start(backend, "approval-demo")
    await collect(backend, run.run_id, until=is_gate)
    with anyio.fail_after(DEADLINE):
        forked = await backend.fork_run(run.run_id, from_seq=1)
        await backend.cancel_run(run.run_id)
    assert forked.status is not RunStatus.UNKNOWN
    assert sandbox.stats()["forks"] == 1, "the call was made although discovery said no"
