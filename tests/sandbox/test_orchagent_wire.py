"""The orchagent sandbox on the wire (docs/backends/orchagent.md): exact `data: ` framing, full replay on every
connection, the stream held open across `auth.required` until resume, tokens, threads, history, secrets,
approvals and stream faults."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx2
import pytest

from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import OrchagentState

pytestmark = pytest.mark.anyio

MakeSandbox = Callable[..., SandboxServer]


@pytest.fixture
def orchagent(make_sandbox: MakeSandbox) -> SandboxServer:
    return make_sandbox(family="orchagent")


def client_for(sb: SandboxServer, token: str | None = None) -> httpx2.AsyncClient:
    headers = {"Authorization": f"Bearer {token or sb.api_key}"}
    return httpx2.AsyncClient(base_url=sb.base_url, headers=headers, timeout=5.0)


async def fresh_token(sb: SandboxServer) -> str:
    """A token of a new user (servers are shared between tests; approvals are per user)."""
    async with httpx2.AsyncClient(base_url=sb.base_url, timeout=5.0) as client:
        email = f"user-{len(state_of(sb).users)}@example.com"
        response = await client.post("/auth/register", json={"email": email, "password": "pw"})
    return str(response.json()["access_token"])


def state_of(sb: SandboxServer) -> OrchagentState:
    state = sb.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
    assert isinstance(state, OrchagentState)
    return state


async def lines(response: httpx2.Response) -> AsyncIterator[str]:
    """The stream's raw lines (blank ones included), split on `\\n` only."""
    buffer = ""
    async for text in response.aiter_text():
        buffer += text
        while "\n" in buffer:
            line, buffer = buffer.split("\n", 1)
            yield line


async def events(response: httpx2.Response, *, until: str | None = None) -> list[dict[str, Any]]:
    """The JSON objects of `data: ` lines until the server closes the stream (or an event of type `until`)."""
    out: list[dict[str, Any]] = []
    async for line in lines(response):
        if line.startswith("data: "):
            out.append(json.loads(line[6:]))
            if until is not None and out[-1]["type"] == until:
                break
    return out


async def new_thread(client: httpx2.AsyncClient, workflow: str = "chat", **spec: Any) -> str:
    response = await client.post("/threads", json={"workflow": workflow, **spec})
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def send(client: httpx2.AsyncClient, thread_id: str, prompt: str = "Hi", **body: Any) -> str:
    response = await client.post(f"/threads/{thread_id}/messages", json={"user_prompt": prompt, **body})
    assert response.status_code == 200, response.text
    return str(response.json()["run_id"])


async def finished(client: httpx2.AsyncClient, run_id: str) -> list[dict[str, Any]]:
    with anyio.fail_after(5):
        async with client.stream("GET", f"/runs/{run_id}/events") as response:
            return await events(response)


async def test_every_frame_is_one_data_line_holding_one_json_object(orchagent: SandboxServer) -> None:
    async with client_for(orchagent) as client:
        run_id = await send(client, await new_thread(client))
        with anyio.fail_after(5):
            async with client.stream("GET", f"/runs/{run_id}/events") as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                raw = "".join([text async for text in response.aiter_text()])
    frames = [f for f in raw.split("\n\n") if f]
    assert raw.endswith("\n\n")
    for chunk in frames:
        assert "\n" not in chunk, f"one line per frame: {chunk!r}"
        assert chunk.startswith("data: ") or chunk == ": keepalive"
    docs = [json.loads(f[6:]) for f in frames if f.startswith("data: ")]
    assert all(isinstance(d, dict) and {"type", "timestamp"} <= set(d) for d in docs)
    assert docs[0]["type"] == "run.started"
    assert docs[-1] == {**docs[-1], "type": "run.completed", "details": {"output": "You said: Hi"}}


async def test_every_connection_replays_the_run_from_its_first_event(orchagent: SandboxServer) -> None:
    async with client_for(orchagent) as client:
        run_id = await send(client, await new_thread(client))
        first = await finished(client, run_id)
        second = await finished(client, run_id)
    assert first == second
    assert [e["type"] for e in first][:2] == ["run.started", "step.started"]


async def test_the_stream_stays_open_across_both_gates_and_continues_after_each_resume(
    orchagent: SandboxServer,
) -> None:
    async with client_for(orchagent) as client, client_for(orchagent) as other:
        run_id = await send(client, await new_thread(client, "calendar-hil-chat"), "Book a sync on Tuesday")
        received: list[dict[str, Any]] = []
        keepalives_at_gate = 0
        with anyio.fail_after(10):
            async with client.stream("GET", f"/runs/{run_id}/events") as response:
                async for line in lines(response):
                    if line.startswith("data: "):
                        received.append(json.loads(line[6:]))
                        keepalives_at_gate = 0
                    elif line == ": keepalive" and received[-1]["type"].endswith(".required"):
                        keepalives_at_gate += 1
                        if keepalives_at_gate == 2:  # the run really waits: answer from another connection
                            if received[-1]["type"] == "approval.required":
                                tool = received[-1]["details"]["tool"]
                                approved = await other.post(f"/approvals/{run_id}/approve", json={"tool": tool})
                                assert approved.json()["ok"] is True
                            resumed = await other.post(f"/runs/{run_id}/resume", json={})
                            assert resumed.status_code == 200, resumed.text
    types = [e["type"] for e in received]
    auth = received[types.index("auth.required")]
    assert auth["message"] == "Google Calendar needs authorization."
    assert auth["details"]["instruction"].startswith("Open the link")
    assert auth["details"]["redirect_url"].startswith(f"{orchagent.base_url}/oauth/authorize?")
    assert types[types.index("auth.required") + 1] == "run.resumed"
    approval = received[types.index("approval.required")]
    assert approval["details"]["server"] == "mcp"
    assert approval["details"]["tool"] == "GOOGLECALENDAR_CREATE_EVENT"
    assert set(approval["details"]["args"]) == {"title", "start", "minutes", "attendees"}
    assert types[-1] == "run.completed"
    assert received[-1]["details"]["output"].startswith("Your meeting is booked")
    async with client_for(orchagent) as client:
        oauth = await client.get(auth["details"]["redirect_url"].removeprefix(orchagent.base_url), headers={})
    assert oauth.status_code == 200


async def test_resume_without_an_approval_denies_the_tool_and_the_run_ends_with_error(
    orchagent: SandboxServer,
) -> None:
    async with client_for(orchagent) as client:
        run_id = await send(client, await new_thread(client, "tool-approval-chat"))
        async with client.stream("GET", f"/runs/{run_id}/events") as response:
            await events(response, until="approval.required")
        denied = await client.post(f"/runs/{run_id}/resume", json={})
        again = await client.post(f"/runs/{run_id}/resume", json={})
        docs = await finished(client, run_id)
    assert denied.json()["approved"] is False
    assert again.status_code == 409
    assert "not waiting" in again.json()["detail"]
    assert docs[-1]["type"] == "error"
    assert "rejected" in docs[-1]["message"]


async def test_a_tool_approved_before_its_gate_is_not_asked_and_clear_drops_approvals(
    orchagent: SandboxServer,
) -> None:
    async with client_for(orchagent, await fresh_token(orchagent)) as client:
        run_id = await send(client, await new_thread(client, "tool-approval-chat"), "runbridge")
        approved = await client.post(
            f"/approvals/{run_id}/approve", json={"server": "mcp", "tool": "tavily_search", "args_keys": ["query"]}
        )
        docs = await finished(client, run_id)
        replay = await finished(client, run_id)
        bad = await client.post(f"/approvals/{run_id}/approve", json={"server": "mcp"})
        cleared = await client.post("/approvals/clear", json={})
        cleared_again = await client.post("/approvals/clear", json={"all": True})
    assert approved.json() == {
        "ok": True,
        "run_id": run_id,
        "server": "mcp",
        "tool": "tavily_search",
        "args_keys": ["query"],
    }
    types = [d["type"] for d in docs]
    assert "approval.required" not in types
    assert "run.resumed" not in types
    assert types[-1] == "run.completed"
    assert docs == replay
    assert bad.status_code == 422
    assert cleared.json() == {"ok": True, "cleared": 1}
    assert cleared_again.json()["ok"] is True
    assert state_of(orchagent).approvals == []


async def test_register_and_login_return_access_tokens_that_guard_every_thread_and_run(
    orchagent: SandboxServer,
) -> None:
    email = f"ana-{id(orchagent)}@example.com"
    async with httpx2.AsyncClient(base_url=orchagent.base_url, timeout=5.0) as anonymous:
        registered = await anonymous.post("/auth/register", json={"email": email, "password": "pw-1", "profile": "x"})
        twice = await anonymous.post("/auth/register", json={"email": email, "password": "pw-1"})
        wrong = await anonymous.post("/auth/login", json={"email": email, "password": "nope"})
        missing = await anonymous.post("/auth/login", json={"email": email})
        logged_in = await anonymous.post("/auth/login", json={"email": email, "password": "pw-1"})
        refused = await anonymous.post("/threads", json={})
        meta = await anonymous.get("/meta")
    assert registered.status_code == 200
    assert registered.json()["access_token"]
    assert twice.status_code == 409
    assert (wrong.status_code, wrong.json()) == (401, {"detail": "Invalid email or password"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"] == ["body", "password"]
    token = logged_in.json()["access_token"]
    assert (refused.status_code, refused.headers["www-authenticate"]) == (401, "Bearer")
    assert meta.status_code == 200
    assert isinstance(meta.json()["deprecations"], list)
    async with client_for(orchagent, token) as ana, client_for(orchagent) as someone_else:
        thread_id = await new_thread(ana)
        run_id = await send(ana, thread_id)
        foreign_thread = await someone_else.get(f"/threads/{thread_id}/history")
        foreign_run = await someone_else.post(f"/runs/{run_id}/resume", json={})
    assert (foreign_thread.status_code, foreign_run.status_code) == (404, 404)


async def test_history_returns_the_latest_messages_oldest_first(orchagent: SandboxServer) -> None:
    async with client_for(orchagent) as client:
        thread_id = await new_thread(client)
        for prompt in ("one", "two", "three"):
            await finished(client, await send(client, thread_id, prompt))
        everything = (await client.get(f"/threads/{thread_id}/history")).json()["items"]
        latest = (await client.get(f"/threads/{thread_id}/history", params={"limit": 2})).json()["items"]
        bad = await client.get(f"/threads/{thread_id}/history", params={"limit": 0})
    assert [(i["role"], i["content"]) for i in everything] == [
        ("user", "one"),
        ("assistant", "You said: one"),
        ("user", "two"),
        ("assistant", "You said: two"),
        ("user", "three"),
        ("assistant", "You said: three"),
    ]
    assert all(isinstance(i["meta_json"], str) and i["created_at"] for i in everything)
    assert json.loads(everything[-1]["meta_json"])["run_id"]
    assert latest == everything[-2:]
    assert bad.status_code == 422


async def test_secrets_merge_run_time_over_thread_over_workflow(orchagent: SandboxServer) -> None:
    workflow_secrets = {"providers": {"openai": {"api_key": "wf", "base_url": "https://wf.example"}}, "A": "wf"}
    async with client_for(orchagent) as client:
        thread_id = await new_thread(client, secrets=workflow_secrets)
        stored = await client.post(
            f"/threads/{thread_id}/secrets", json={"secrets": {"providers": {"openai": {"api_key": "th"}}, "B": "th"}}
        )
        run_id = await send(client, thread_id, secrets={"providers": {"openai": {"api_key": "run"}}})
        docs = await finished(client, run_id)
        no_body = await client.post(f"/threads/{thread_id}/secrets", json={})
    assert stored.json() == {"ok": True}
    merged = state_of(orchagent).runs[run_id].secrets
    assert merged == {
        "providers": {"openai": {"api_key": "run", "base_url": "https://wf.example"}},
        "A": "wf",
        "B": "th",
    }
    assert "run" not in json.dumps(docs[0]["details"]), "the reference server never echoes secrets"
    assert no_body.status_code == 422


async def test_a_dropped_stream_breaks_without_an_end_and_the_next_connection_replays_everything(
    orchagent: SandboxServer,
) -> None:
    async with client_for(orchagent) as client:
        run_id = await send(client, await new_thread(client), inputs={"_sandbox": {"drop_after": [2]}})
        cut: list[dict[str, Any]] = []

        async def read_all() -> None:
            async with client.stream("GET", f"/runs/{run_id}/events") as response:
                async for line in lines(response):
                    if line.startswith("data: "):
                        cut.append(json.loads(line[6:]))

        with pytest.raises(httpx2.RemoteProtocolError):
            await read_all()
        whole = await finished(client, run_id)
    assert cut == whole[:2]
    assert whole[-1]["type"] == "run.completed"
    assert orchagent.stats()["stream_drops"] == 1


async def test_a_malformed_frame_is_sent_once_and_is_not_part_of_the_replay(orchagent: SandboxServer) -> None:
    async with client_for(orchagent) as client:
        run_id = await send(client, await new_thread(client), inputs={"_sandbox": {"malformed_at": 1}})
        async with client.stream("GET", f"/runs/{run_id}/events") as response:
            first = [line async for line in lines(response) if line.startswith("data: ")]
        second = await finished(client, run_id)
    assert sum(1 for line in first if not line.endswith("}")) == 1
    assert [json.loads(line[6:]) for line in first if line.endswith("}")] == second


async def test_the_held_open_variant_keeps_the_stream_open_after_the_end(make_sandbox: MakeSandbox) -> None:
    sb = make_sandbox(family="orchagent", variant="held-open")
    async with client_for(sb) as client:
        run_id = await send(client, await new_thread(client))
        after_end: list[str] = []
        with anyio.fail_after(5):
            async with client.stream("GET", f"/runs/{run_id}/events") as response:
                ended = False
                async for line in lines(response):
                    ended = ended or '"type":"run.completed"' in line
                    if ended and line == ": keepalive":
                        after_end.append(line)
                        if len(after_end) == 2:
                            break
    assert after_end == [": keepalive", ": keepalive"]


async def test_the_top_level_variant_puts_instruction_and_redirect_url_beside_message(
    make_sandbox: MakeSandbox,
) -> None:
    sb = make_sandbox(family="orchagent", variant="top-level")
    async with client_for(sb) as client:
        run_id = await send(client, await new_thread(client, "calendar-hil-chat"))
        async with client.stream("GET", f"/runs/{run_id}/events") as response:
            docs = await events(response, until="auth.required")
    auth = docs[-1]
    assert auth["redirect_url"].startswith(f"{sb.base_url}/oauth/authorize?")
    assert auth["instruction"]
    assert "redirect_url" not in auth["details"]


async def test_threads_refuse_unknown_workflows_and_ones_with_other_gates(orchagent: SandboxServer) -> None:
    async with client_for(orchagent) as client:
        unknown = await client.post("/threads", json={"workflow": "nope"})
        gated = await client.post("/threads", json={"workflow": "approval-demo"})
        not_an_object = await client.post("/threads", json=[1, 2])
        no_prompt = await client.post(f"/threads/{await new_thread(client)}/messages", json={})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["msg"] == (
        "Unknown workflow 'nope'; this server runs: calendar-hil-chat, chat, tool-approval-chat"
    ), "only the chat workflows, not every family's examples"
    assert gated.status_code == 422
    assert not_an_object.status_code == 422
    assert no_prompt.json()["detail"][0]["loc"] == ["body", "user_prompt"]
