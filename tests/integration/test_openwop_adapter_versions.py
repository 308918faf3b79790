"""The protocol version runbridge speaks to an OpenWOP host: the newest one both sides support, from the host's
discovery document; a pinned version stays authoritative (and is refused clearly when discovery says the host lacks
it); v1 when discovery names no version. Each host is a real sandbox on loopback serving v1, v2 or both."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from openwop_harness import DEADLINE, Connect, MakeSandbox, RecordingTransport, collect, is_gate, start

from runbridge.cli.doctor import run_doctor
from runbridge.core.config import Profile, Settings
from runbridge.core.errors import ConfigError
from runbridge.core.models import EventKind, GateAnswer, RunEvent
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

V1 = {"protocol_versions": ("1.0",)}
V2 = {"protocol_versions": ("2.0",)}
BOTH = {"protocol_versions": ("1.0", "2.0")}


def _paths(transport: RecordingTransport) -> list[str]:
    return [r.url.path for r in transport.requests if r.url.path != "/.well-known/openwop"]


async def _gated_run(backend: Any) -> list[RunEvent]:
    """An approval run, answered, followed to its end."""
    run = await start(backend, "approval-demo")

    async def accept(event: RunEvent) -> None:
        if is_gate(event) and event.gate is not None:
            await backend.resolve_gate(event.gate, GateAnswer(decision="accept", values={"decision": "accept"}))

    return (await collect(backend, run.run_id, on_event=accept)).events


@pytest.mark.parametrize(
    ("served", "spoken"),
    [(V1, 1), (V2, 2), (BOTH, 2)],
    ids=["only-v1", "only-v2", "both"],
)
async def test_the_newest_version_both_sides_support_is_spoken_for_the_whole_run(
    served: dict[str, Any], spoken: int, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=served)
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport)
    with anyio.fail_after(DEADLINE):
        events = await _gated_run(backend)
        info = await backend.host_info()
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert info.wire_version == f"{spoken}.0"
    assert info.protocol_versions == list(served["protocol_versions"])
    paths = _paths(transport)
    assert any(p.endswith("/runs") for p in paths), paths
    assert any("/interrupts/" in p for p in paths), paths
    if spoken == 1:
        assert all(p.startswith("/v1/") for p in paths), paths
        assert not any("openwop-version" in r.headers for r in transport.requests)
    else:
        assert not any(p.startswith("/v1/") for p in paths), paths
        versioned = [r for r in transport.requests if r.url.path != "/.well-known/openwop"]
        assert all(r.headers.get("openwop-version") == "2.0" for r in versioned)
    assert sandbox.stats()["statuses"].get("406", 0) == 0


async def test_a_v2_host_is_polled_with_the_v2_cursor_and_answer(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox(variant={**V2, "events_stream": "404"})
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport)
    with anyio.fail_after(DEADLINE):
        run = await start(backend, "quick-demo")
        watched = await collect(backend, run.run_id)
    assert watched.last.kind is EventKind.RUN_COMPLETED
    assert watched.seqs == sorted(set(watched.seqs))
    polls = [r for r in transport.requests if r.url.path.endswith("/events/poll")]
    assert polls
    assert all(r.url.path == f"/runs/{run.run_id}/events/poll" for r in polls)
    assert "lastSequence" not in str(polls[-1].url)


@pytest.mark.parametrize("discovery", ["missing", "unavailable", "partial"])
async def test_without_a_version_in_discovery_v1_is_spoken(
    discovery: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    # A partial v2-capable document here names its versions, so it is the v1-only host's partial document.
    sandbox = make_sandbox(
        variant={**BOTH, "discovery": discovery} if discovery != "partial" else {"discovery": discovery}
    )
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport)
    with anyio.fail_after(DEADLINE):
        events = await _gated_run(backend)
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert (await backend.wire()).version == 1
    assert all(p.startswith("/v1/") for p in _paths(transport))
    assert sandbox.stats()["requests"]["GET /.well-known/openwop"] == 1, "asked once, also when it failed"


async def test_a_pinned_version_is_authoritative_when_the_host_serves_it(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=BOTH)
    transport = RecordingTransport()
    backend = connect(sandbox, transport=transport, options={"protocol_version": 1})
    with anyio.fail_after(DEADLINE):
        events = await _gated_run(backend)
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert all(p.startswith("/v1/") for p in _paths(transport)), "v2 is newer, but the profile pins v1"


async def test_a_pinned_version_is_spoken_when_discovery_cannot_tell(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={**V2, "discovery": "missing"})
    backend = connect(sandbox, options={"protocol_version": "2.0"})
    with anyio.fail_after(DEADLINE):
        events = await _gated_run(backend)
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert (await backend.host_info()).wire_version == "2.0"


@pytest.mark.parametrize(
    ("served", "pinned", "offered", "fix"),
    [
        (V1, 2, "only 1.0", "Set options.protocol_version = 1, or remove it"),
        (V2, 1, "only 2.0", "Set options.protocol_version = 2, or remove it"),
    ],
    ids=["v2-pinned-on-a-v1-host", "v1-pinned-on-a-v2-host"],
)
async def test_a_pinned_version_the_host_lacks_is_a_clear_error_before_any_request(
    served: dict[str, Any], pinned: int, offered: str, fix: str, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=served)
    backend = connect(sandbox, options={"protocol_version": pinned})
    with anyio.fail_after(DEADLINE), pytest.raises(ConfigError) as raised:
        await start(backend, "quick-demo")
    message = str(raised.value)
    assert f"pins OpenWOP protocol version {pinned} (options.protocol_version)" in message
    assert f"serves {offered}, says its discovery document" in message
    assert fix in message
    assert sandbox.stats()["runs_created"] == 0
    assert set(sandbox.stats()["requests"]) == {"GET /.well-known/openwop"}, "nothing was sent in the wrong version"


async def test_the_sandbox_refuses_a_request_in_a_version_it_does_not_serve(make_sandbox: MakeSandbox) -> None:
    import httpx2

    v2 = make_sandbox(variant=V2)
    v1 = make_sandbox(variant=V1)
    async with httpx2.AsyncClient(headers=v2.headers) as http:
        no_header = await http.get(f"{v2.base_url}/workflows/quick-demo")
        wrong = await http.get(f"{v2.base_url}/workflows/quick-demo", headers={"OpenWOP-Version": "3.0"})
        old_path = await http.get(f"{v2.base_url}/v1/workflows/quick-demo")
        right = await http.get(f"{v2.base_url}/workflows/quick-demo", headers={"OpenWOP-Version": "2.0"})
        unversioned = await http.get(f"{v1.base_url}/workflows/quick-demo", headers={"OpenWOP-Version": "2.0"})
    assert (no_header.status_code, no_header.json()["error"]) == (406, "protocol_version_unsupported")
    assert wrong.status_code == 406
    assert old_path.status_code == 404
    assert right.status_code == 200
    assert unversioned.status_code == 400


def test_doctor_shows_the_versions_and_the_one_spoken(
    make_sandbox: MakeSandbox, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    both: SandboxServer = make_sandbox(variant=BOTH)
    lacking: SandboxServer = make_sandbox(variant=V1)
    missing: SandboxServer = make_sandbox(variant={"discovery": "missing"})
    monkeypatch.setenv("RB_VERSIONS_DOCTOR_KEY", both.api_key)  # doctor checks the key too

    def profile(name: str, sandbox: SandboxServer, **options: Any) -> Profile:
        return Profile(
            name=name,
            family="openwop",
            base_url=sandbox.base_url,
            api_key_env="RB_VERSIONS_DOCTOR_KEY",
            options=options,
        )

    settings = Settings(
        profiles={
            "both": profile("both", both),
            "lacking": profile("lacking", lacking, protocol_version=2),
            "missing": profile("missing", missing),
        },
        state_path=":memory:",
    )
    code = run_doctor(settings)
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    hosts = [line for line in out if line.startswith("  host: ")]
    assert hosts[0].startswith("  host: protocol 1.0, 2.0 (runbridge speaks 2.0); advertises "), out
    assert hosts[1] == "  host: the host publishes no discovery document (HTTP 404); runbridge speaks 1.0", out
    refused = next(line for line in out if line.startswith("✗ lacking"))
    assert not any(line.startswith("✓ lacking") for line in out)
    assert "pins OpenWOP protocol version 2" in refused
    assert "serves only 1.0" in refused


async def test_a_fresh_adapters_concurrent_first_requests_ask_discovery_once(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant=BOTH)
    backend = connect(sandbox)
    with anyio.fail_after(DEADLINE):
        async with anyio.create_task_group() as tg:
            for workflow in ("quick-demo", "approval-demo", "failing-demo", "long-demo"):
                tg.start_soon(backend.describe_target, workflow)
    requests = sandbox.stats()["requests"]
    assert requests["GET /.well-known/openwop"] == 1
    assert requests["GET /v1/workflows/{workflow_id}"] == 4, "v2 requests are counted by their v1 route"
