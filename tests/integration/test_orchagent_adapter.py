"""The orchagent adapter against the orchagent sandbox over loopback: login, threads from a file, messages as
runs, the replayed stream (no duplicate, no loss across reconnects), auth and tool-approval gates, approvals,
status derived from the replay, secrets by reference, tokens that change while the adapter runs."""

from __future__ import annotations

import json
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from runbridge.backends.orchagent import OrchagentBackend, obtain_token
from runbridge.core import ConfigError, EventKind, GateAnswer, NotFoundError, RunEvent, RunStatus
from runbridge.core.config import Profile
from runbridge.core.errors import AuthError, CursorError, GateError, InputError, UnsupportedError
from runbridge.core.threads import SecretRefs
from runbridge.http import RetryPolicy, write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import EXAMPLE_SPECS, OrchagentState

pytestmark = pytest.mark.anyio

DEADLINE = 15.0
SENTINEL = "SENTINEL-OPENAI-KEY-0001"

Make = Callable[..., OrchagentBackend]


@pytest.fixture(scope="module")
def servers() -> Iterator[dict[str, SandboxServer]]:
    pool: dict[str, SandboxServer] = {}
    yield pool
    SandboxServer.stop_all(pool.values())


@pytest.fixture
def orchagent(servers: dict[str, SandboxServer]) -> Callable[[str], SandboxServer]:
    """An orchagent sandbox of a variant (shared by this module's tests), counters reset, no faults."""

    def get(variant: str = "reference") -> SandboxServer:
        server = servers.get(variant)
        if server is None:
            server = servers[variant] = SandboxServer("orchagent", variant=variant, keepalive_seconds=0.05).start()
        server.faults.clear()
        server.context.stats.reset()
        return server

    return get


@pytest.fixture
def sandbox(orchagent: Callable[[str], SandboxServer]) -> SandboxServer:
    return orchagent("reference")


@pytest.fixture
async def make(tmp_path: Path, anyio_backend: str) -> AsyncIterator[Make]:
    """`make(sandbox, token=..., env=..., **profile)`: an adapter whose token file holds `token` (default: the
    sandbox's own key), closed at teardown."""
    made: list[OrchagentBackend] = []

    def _make(sb: SandboxServer, *, token: str | None = None, env: dict[str, str] | None = None, **fields: Any):
        token_file = tmp_path / f"token-{len(made)}.json"
        write_token_file(token_file, sb.api_key if token is None else token)
        settings: dict[str, Any] = {"token_file": token_file, "read_timeout": 5.0, "max_retries": 2, **fields}
        profile = Profile(name="oa", family="orchagent", base_url=sb.base_url, **settings)
        backend = OrchagentBackend(profile, env=env or {})
        backend.http.retry = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05, budget=2.0)
        made.append(backend)
        return backend

    yield _make
    for backend in made:
        await backend.aclose()


def state_of(sb: SandboxServer) -> OrchagentState:
    state = sb.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
    assert isinstance(state, OrchagentState)
    return state


async def follow_answering(
    backend: OrchagentBackend, run_id: str, answers: dict[str, GateAnswer], *, cursor: str | None = None
) -> list[RunEvent]:
    """Every event of a watch until it ends, answering each gate by its kind as it arrives."""
    seen: list[RunEvent] = []
    with anyio.fail_after(DEADLINE):
        async for event in backend.watch(run_id, cursor=cursor):
            seen.append(event)
            if event.gate is not None and event.gate.kind in answers:
                await backend.resolve_gate(event.gate, answers[event.gate.kind])
    return seen


APPROVE = {
    "auth": GateAnswer(decision="accept"),
    "tool_approval": GateAnswer(decision="accept", values={"decision": "approve"}),
}


async def test_login_then_a_thread_from_a_file_streams_through_auth_and_approval_to_completion(
    sandbox: SandboxServer, make: Make, tmp_path: Path
) -> None:
    register = Profile(name="oa", family="orchagent", base_url=sandbox.base_url, token_file=tmp_path / "t.json")
    token = await obtain_token(register, "login-test@example.com", "s3cret-pw", register=True)
    again = await obtain_token(register, "login-test@example.com", "s3cret-pw")
    with pytest.raises(AuthError, match="Wrong email or password"):
        await obtain_token(register, "login-test@example.com", "not-it")
    assert token != again
    backend = make(sandbox, token=again)
    assert stat.S_IMODE(backend._tokens.path.stat().st_mode) == 0o600
    spec_file = tmp_path / "composio_calendar_hil_chat.json"
    spec_file.write_text(json.dumps(EXAMPLE_SPECS["calendar_hil_chat"]), encoding="utf-8")

    thread = await backend.create_thread(json.loads(spec_file.read_text(encoding="utf-8")))
    run = await backend.send_message(thread.thread_id, "Book a sync with Ana on Tuesday", inputs={"user_id": "u1"})
    events = await follow_answering(backend, run.run_id, APPROVE)

    assert [e.seq for e in events] == [str(i) for i in range(1, len(events) + 1)]
    gates = [e.gate for e in events if e.gate is not None]
    assert [g.kind for g in gates] == ["auth", "tool_approval"]
    auth, approval = gates
    assert auth.gate_id == f"{run.run_id}:auth.required:1"
    assert auth.fields == []
    assert auth.redirect_url is not None
    assert auth.redirect_url.startswith(f"{sandbox.base_url}/oauth/authorize?")
    assert "Google Calendar needs authorization." in auth.prompt
    assert "Open the link" in auth.prompt
    assert approval.gate_id == f"{run.run_id}:approval.required:1"
    assert approval.fields[0].options == ["approve", "deny"]
    assert approval.context["tool"] == "GOOGLECALENDAR_CREATE_EVENT"
    assert approval.resume["args_keys"] == ["attendees", "minutes", "start", "title"]
    last = events[-1]
    assert last.kind is EventKind.RUN_COMPLETED
    assert last.data["outputs"].startswith("Your meeting is booked")
    assert any(e.kind is EventKind.RUN_RESUMED for e in events)
    assert state_of(sandbox).approved(run.run_id, "mcp", "GOOGLECALENDAR_CREATE_EVENT")
    history = await backend.thread_history(thread.thread_id)
    assert [(h.role, h.run_id) for h in history] == [("user", run.run_id), ("assistant", run.run_id)]
    assert history[-1].content == last.data["outputs"]


async def test_reconnects_mid_stream_deliver_every_event_exactly_once(sandbox: SandboxServer, make: Make) -> None:
    backend = make(sandbox)
    thread = await backend.create_thread({"workflow": "calendar-hil-chat"})
    clean = await backend.send_message(thread.thread_id, "clean")
    reference = await follow_answering(backend, clean.run_id, APPROVE)
    # Drops: twice before the first gate, once right after it (the 6th frame is auth.required), then once later.
    faulty = await backend.send_message(thread.thread_id, "faulty", inputs={"_sandbox": {"drop_after": [2, 3, 6, 8]}})
    events = await follow_answering(backend, faulty.run_id, APPROVE)
    assert [e.raw_type for e in events] == [e.raw_type for e in reference]
    assert [e.seq for e in events] == [str(i) for i in range(1, len(events) + 1)]
    assert sum(1 for e in events if e.gate is not None) == 2
    assert sandbox.stats()["stream_drops"] == 4


async def test_a_non_json_line_is_skipped_without_shifting_positions(sandbox: SandboxServer, make: Make) -> None:
    backend = make(sandbox)
    thread = await backend.create_thread({"workflow": "chat"})
    run = await backend.send_message(
        thread.thread_id, "hi", inputs={"_sandbox": {"malformed_at": 2, "drop_after": [4]}}
    )
    events = await follow_answering(backend, run.run_id, {})
    assert [e.seq for e in events] == [str(i) for i in range(1, len(events) + 1)]
    assert events[-1].data["outputs"] == "You said: hi"


async def test_watching_from_a_cursor_skips_the_replayed_start(sandbox: SandboxServer, make: Make) -> None:
    backend = make(sandbox)
    thread = await backend.create_thread({"workflow": "chat"})
    run = await backend.send_message(thread.thread_id, "hi")
    everything = await follow_answering(backend, run.run_id, {})
    tail = await follow_answering(backend, run.run_id, {}, cursor="3")
    at_end = await follow_answering(backend, run.run_id, {}, cursor=everything[-1].seq)
    assert [e.seq for e in tail] == [e.seq for e in everything[3:]]
    assert [e.model_dump(exclude={"ts"}) for e in tail] == [e.model_dump(exclude={"ts"}) for e in everything[3:]]
    assert len(at_end) == 1
    assert at_end[0].kind is EventKind.RUN_COMPLETED
    assert at_end[0].data["replayed"] is True


async def test_get_run_derives_the_status_and_the_open_gate_from_the_replay(sandbox: SandboxServer, make: Make) -> None:
    backend = make(sandbox)
    thread = await backend.create_thread({"workflow": "calendar-hil-chat"})
    run = await backend.send_message(thread.thread_id, "book it")
    gate = None
    with anyio.fail_after(DEADLINE):
        async for event in backend.watch(run.run_id):
            if event.gate is not None:
                gate = event.gate
                break
    assert gate is not None
    waiting = await backend.get_run(run.run_id)
    assert waiting.status is RunStatus.WAITING
    assert waiting.open_gate is not None
    assert waiting.open_gate.gate_id == gate.gate_id
    assert waiting.target_id == thread.thread_id
    await backend.resolve_gate(gate, GateAnswer(decision="accept"))
    await follow_answering(backend, run.run_id, APPROVE, cursor="6")
    done = await backend.get_run(run.run_id)
    assert done.status is RunStatus.COMPLETED
    assert done.open_gate is None
    assert done.outputs.startswith("Your meeting is booked")
    assert done.usage is not None
    assert done.usage.total_tokens == 480 + 920 + 690
    with pytest.raises(NotFoundError, match="No run 'run_nope'"):
        await backend.get_run("run_nope")


async def test_approve_before_the_gate_skips_it_and_clear_drops_the_approvals(
    sandbox: SandboxServer, make: Make
) -> None:
    backend = make(sandbox, token=await obtain_token(_profile(sandbox), "approver@example.com", "pw", register=True))
    thread = await backend.create_thread({"workflow": "tool-approval-chat"})
    run = await backend.send_message(thread.thread_id, "runbridge")
    approved = await backend.approve_tool(run.run_id, "tavily_search", server="mcp", args_keys=["query"])
    events = await follow_answering(backend, run.run_id, {})
    cleared = await backend.clear_approvals()
    assert approved["tool"] == "tavily_search"
    assert not any(e.gate for e in events)
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert cleared == {"ok": True, "cleared": 1}
    assert (await backend.clear_approvals(all=True))["ok"] is True


async def test_a_denied_tool_resumes_without_approval_and_a_second_answer_finds_the_gate_closed(
    sandbox: SandboxServer, make: Make
) -> None:
    backend = make(sandbox)
    thread = await backend.create_thread({"workflow": "tool-approval-chat"})
    run = await backend.send_message(thread.thread_id, "x")
    deny = {"tool_approval": GateAnswer(decision="accept", values={"decision": "deny"})}
    events = await follow_answering(backend, run.run_id, deny)
    gate = next(e.gate for e in events if e.gate is not None)
    assert events[-1].kind is EventKind.RUN_FAILED
    assert "rejected" in (events[-1].data["error"]["message"])
    assert not state_of(sandbox).approved(run.run_id, "mcp", "tavily_search")
    with pytest.raises(GateError) as caught:
        await backend.resolve_gate(gate, GateAnswer(decision="decline"))
    assert caught.value.closed


async def test_a_declined_sign_in_leaves_the_auth_gate_open(sandbox: SandboxServer, make: Make) -> None:
    backend = make(sandbox)
    thread = await backend.create_thread({"workflow": "calendar-hil-chat"})
    run = await backend.send_message(thread.thread_id, "x")
    with anyio.fail_after(DEADLINE):
        gate = None
        async for event in backend.watch(run.run_id):
            if event.gate is not None:
                gate = event.gate
                break
    assert gate is not None
    assert await backend.resolve_gate(gate, GateAnswer(decision="decline")) == {"resolved": False}
    assert (await backend.get_run(run.run_id)).status is RunStatus.WAITING


async def test_a_server_that_keeps_the_stream_open_still_ends_the_watch_at_run_completed(
    orchagent: Callable[[str], SandboxServer], make: Make
) -> None:
    backend = make(orchagent("held-open"))
    thread = await backend.create_thread({"workflow": "chat"})
    run = await backend.send_message(thread.thread_id, "hello")
    events = await follow_answering(backend, run.run_id, {})
    assert events[-1].kind is EventKind.RUN_COMPLETED
    assert (await backend.get_run(run.run_id)).status is RunStatus.COMPLETED


async def test_instruction_and_redirect_url_are_read_at_the_top_level_too(
    orchagent: Callable[[str], SandboxServer], make: Make
) -> None:
    sb = orchagent("top-level")
    backend = make(sb)
    thread = await backend.create_thread({"workflow": "calendar-hil-chat"})
    run = await backend.send_message(thread.thread_id, "x")
    events = await follow_answering(backend, run.run_id, APPROVE)
    auth = next(e.gate for e in events if e.gate is not None)
    assert auth.redirect_url is not None
    assert auth.redirect_url.startswith(f"{sb.base_url}/oauth/")
    assert "Open the link" in auth.prompt


async def test_secrets_come_from_the_environment_and_no_value_comes_back(
    orchagent: Callable[[str], SandboxServer], make: Make
) -> None:
    sb = orchagent("leaky")  # a server that echoes the secrets it merged into its events and answers
    env = {"OA_TEST_OPENAI_KEY": SENTINEL, "OA_TEST_TAVILY": "SENTINEL-TAVILY-KEY-0002"}
    backend = make(sb, env=env, options={"secrets_from_env": {"TAVILY_API_KEY": "OA_TEST_TAVILY"}})
    thread = await backend.create_thread({"workflow": "chat"})
    keys = await backend.set_thread_secrets(
        thread.thread_id, SecretRefs(from_env={"providers.openai.base_url": "OA_TEST_TAVILY"})
    )
    refs = SecretRefs(from_env={"providers.openai.api_key": "OA_TEST_OPENAI_KEY"})
    run = await backend.send_message(thread.thread_id, "hi", secrets=refs)
    events = await follow_answering(backend, run.run_id, {})
    history = await backend.thread_history(thread.thread_id)
    merged = state_of(sb).runs[run.run_id].secrets
    assert keys == ["providers.openai.base_url"]
    assert merged == {
        "providers": {"openai": {"api_key": SENTINEL, "base_url": "SENTINEL-TAVILY-KEY-0002"}},
        "TAVILY_API_KEY": "SENTINEL-TAVILY-KEY-0002",
    }
    seen = json.dumps([e.model_dump(mode="json") for e in events]) + json.dumps([h.model_dump() for h in history])
    assert SENTINEL not in seen
    assert "SENTINEL-TAVILY-KEY-0002" not in seen
    assert "***" in seen  # the echoes were there, and were scrubbed
    with pytest.raises(InputError, match=r"OA_TEST_MISSING \(for k\) is not set"):
        await backend.send_message(thread.thread_id, "x", secrets=SecretRefs(from_env={"k": "OA_TEST_MISSING"}))


async def test_the_token_file_is_read_as_it_changes_and_a_missing_or_empty_one_says_to_log_in(
    sandbox: SandboxServer, make: Make
) -> None:
    with pytest.raises(ConfigError, match="runbridge login orchagent"):
        make(sandbox, token="")  # logged out: the adapter says so at once
    backend = make(sandbox)
    write_token_file(backend._tokens.path, "")
    with pytest.raises(ConfigError, match="runbridge login orchagent"):
        await backend.create_thread({})
    write_token_file(backend._tokens.path, "oa_wrong")
    with pytest.raises(AuthError, match=r"did not accept the orchagent sign-in of profile .*runbridge login orchagent"):
        await backend.create_thread({})
    write_token_file(backend._tokens.path, sandbox.api_key + " ")
    assert (await backend.create_thread({})).thread_id
    backend._tokens.path.unlink()
    with pytest.raises(ConfigError, match="does not exist"):
        await backend.create_thread({})


async def test_unknown_threads_and_runs_are_not_found_and_cancel_is_unsupported(
    sandbox: SandboxServer, make: Make
) -> None:
    backend = make(sandbox)
    with pytest.raises(NotFoundError, match="No thread with that id"):
        await backend.send_message("th_nope", "hi")
    with pytest.raises(NotFoundError):
        await backend.thread_history("th_nope")
    with pytest.raises(UnsupportedError, match=r"no way to cancel a run: .*until the gate is answered \(gates_respond"):
        await backend.cancel_run("run_x")


def _profile(sb: SandboxServer) -> Profile:
    return Profile(name="oa", family="orchagent", base_url=sb.base_url)


async def test_a_garbled_event_cursor_is_refused_instead_of_replaying_from_the_start(
    sandbox: SandboxServer, make: Make
) -> None:
    backend = make(sandbox)
    thread = await backend.create_thread({"workflow": "chat"})
    run = await backend.send_message(thread.thread_id, "hi")
    with pytest.raises(CursorError, match="Invalid cursor 'abc'"):
        await follow_answering(backend, run.run_id, {}, cursor="abc")
