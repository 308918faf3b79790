"""No secret leaves where it belongs, tested as a system: `runbridge serve --http` in a subprocess (debug logs on)
on the sandboxes of every family (openwop, orchestrations and orchagent in one test; platform, orq and langgraph in
another), driven by the official client in both eras, with a sentinel value in every secret a profile or a call can
carry: each family's API key (environment variables), the orchagent token file (written by `runbridge login`, with
its password), orchagent provider keys (from the profile, from `threads_set_secrets` and the call, from variables
and from a file), the LLM key a platform profile sends with its calls (echoed back by a careless agent), the HTTP
bearer token, and the requestState key. The orchagent server is the
careless variant that echoes secrets back; calls naming runbridge's own credentials as secret references are
refused, and the orchagent server never receives them. None of the values may appear in a tool result, a notification, a
question, a resource, an error, the server's stderr, or any file the run wrote; the token files runbridge writes are
mode 0600. (tests/e2e/test_orchagent_secrets.py checks the orchagent scrubbing in process, per era; this adds every
family, the transport, the process's own log and its files.)"""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from sentinels_harness import BEARER, STATE_KEY, Seen, files, sentinel_client, serving, structured
from surface_harness import child_env, free_port, profile_for, write_config

from runbridge.cli.login import run_login, run_logout
from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import EXAMPLE_SPECS
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

WOP_KEY = "SENTINEL-openwop-key-8f1c27d0"
SYN_KEY = "SENTINEL-synapse-key-2b7e91aa"
PASSWORD = "SENTINEL-password-c03a55e1"
OPENAI = "SENTINEL-openai-5e6f0a12"
TAVILY = "SENTINEL-tavily-9d4b7c33"
ANTHROPIC = "SENTINEL-anthropic-1a2b3c44"
GEMINI = "SENTINEL-gemini-file-77e0d955"
ENV = {
    "RB_SECRET_WOP_KEY": WOP_KEY,
    "RB_SECRET_SYN_KEY": SYN_KEY,
    "RB_SECRET_OPENAI": OPENAI,
    "RB_SECRET_TAVILY": TAVILY,
    "RB_SECRET_ANTHROPIC": ANTHROPIC,
    "RB_SECRET_BEARER": BEARER,
    "RUNBRIDGE_STATE_KEY": STATE_KEY,
}


async def _drive(url: str, seen: Seen, spec: Path, own_files: list[Path]) -> None:
    async with sentinel_client(url, "legacy", seen) as client:
        await seen.call(client, "profiles_list", {})
        for profile in ("wop", "syn"):
            await seen.call(client, "targets_list", {"profile": profile})
        wop = structured(await seen.call(client, "runs_start", {"target_id": "approval-demo", "profile": "wop"}))
        syn = structured(await seen.call(client, "runs_start", {"target_id": "orch-research-report", "profile": "syn"}))
        assert (wop["status"], syn["status"]) == ("completed", "completed"), (wop, syn)
        thread = structured(await seen.call(client, "threads_create", {"path": str(spec), "profile": "oa"}))[
            "thread_id"
        ]
        refs = {"secrets_from_env": {"TAVILY_API_KEY": "RB_SECRET_TAVILY"}}
        await seen.call(client, "threads_set_secrets", {"thread_id": thread, "profile": "oa", **refs})
        ask = {"thread_id": thread, "user_prompt": "Book a sync", "profile": "oa"}
        asked = await seen.call(
            client, "threads_ask", {**ask, "secrets_from_env": {"providers.openai.api_key": "RB_SECRET_OPENAI"}}
        )
        run_id = structured(asked)["run_id"]
        for name, args in [
            ("threads_history", {"thread_id": thread, "profile": "oa"}),
            ("runs_get", {"run_id": run_id, "profile": "oa"}),
            ("runs_events", {"run_id": run_id, "profile": "oa", "limit": 500}),
            ("runs_events", {"run_id": wop["run_id"], "profile": "wop", "limit": 500}),
            ("gates_list", {"include_closed": True}),
        ]:
            await seen.call(client, name, args)
        seen.add(await client.read_resource(f"runbridge://oa/runs/{run_id}/events"))
        seen.add(await client.read_resource("runbridge://profiles"))
        refusals = [
            await seen.call(client, "threads_send", {**ask, "secrets_from_env": {"k": "RB_SECRET_UNSET"}}),
            await seen.call(client, "threads_send", {**ask, "secrets_from_env": {"k": OPENAI}}),  # a pasted value
            await seen.call(
                client,
                "threads_set_secrets",
                {"thread_id": thread, "profile": "oa", "secrets_from_file": {"k": "/nope"}},
            ),
            await seen.call(client, "runs_get", {"run_id": "run_nope", "profile": "wop"}),
        ]
        assert all(r.is_error for r in refusals), [r.content for r in refusals]
        # References to runbridge's own credentials: refused before anything is read or sent.
        own = [{"secrets_from_env": {"k": name}} for name in ("RB_SECRET_WOP_KEY", "RB_SECRET_BEARER")]
        own += [{"secrets_from_env": {"k": "RUNBRIDGE_STATE_KEY"}}]
        own += [{"secrets_from_file": {"k": str(path)}} for path in own_files]
        for refs in own:
            for tool, args in [("threads_send", ask), ("threads_set_secrets", {"thread_id": thread, "profile": "oa"})]:
                refused = await seen.call(client, tool, {**args, **refs})
                assert refused.is_error, refused.content
                assert "Refused" in str(refused.content), refused.content
    async with sentinel_client(url, "auto", seen) as client:
        modern = await seen.call(client, "runs_start", {"target_id": "approval-demo", "profile": "wop"})
        assert structured(modern)["status"] == "completed"
        await seen.call(client, "threads_ask", {**ask, "user_prompt": "Again"})


async def test_no_secret_reaches_a_result_a_notification_a_log_line_an_error_or_a_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    inputs, run_dir = tmp_path / "inputs", tmp_path / "run"
    inputs.mkdir(mode=0o700)
    run_dir.mkdir(mode=0o700)
    gemini = inputs / "gemini.key"
    gemini.write_text(GEMINI, encoding="utf-8")
    gemini.chmod(0o600)
    spec = run_dir / "calendar.json"
    spec.write_text(json.dumps(EXAMPLE_SPECS["calendar_hil_chat"]), encoding="utf-8")
    token_file = inputs / "orchagent.token"
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    seen = Seen()
    async with (
        SandboxServer("openwop", api_key=WOP_KEY, keepalive_seconds=0.2) as wop,
        SandboxServer("orchestrations", api_key=SYN_KEY, keepalive_seconds=0.2) as syn,
        SandboxServer("orchagent", variant="leaky", keepalive_seconds=0.2) as oa,
    ):
        oa_options = {
            "secrets_from_env": {"providers.anthropic.api_key": "RB_SECRET_ANTHROPIC"},
            "secrets_from_file": {"providers.google_genai.api_key": str(gemini)},
        }
        profiles = {
            "wop": profile_for("openwop", wop, "wop", "RB_SECRET_WOP_KEY"),
            "syn": profile_for("orchestrations", syn, "syn", "RB_SECRET_SYN_KEY"),
            "oa": Profile(
                name="oa",
                family="orchagent",
                base_url=oa.base_url,
                token_file=token_file,
                options=oa_options,
                allowed_spec_dirs=[run_dir],
            ),
        }
        said: list[str] = []
        login = await anyio.to_thread.run_sync(
            lambda: run_login(
                profiles["oa"], register=True, email="ana@example.com", ask_secret=lambda _: PASSWORD, say=said.append
            )
        )
        assert login == 0
        token = json.loads(token_file.read_text(encoding="utf-8"))["access_token"]
        config = write_config(run_dir / "runbridge.toml", profiles, state_path=str(run_dir / "state" / "state.db"))
        env = child_env(RUNBRIDGE_CONFIG=str(config), HOME=str(run_dir), XDG_STATE_HOME=str(run_dir / "xdg"), **ENV)
        chunks: list[bytes] = []
        with anyio.fail_after(90):
            async with serving(env, port, chunks):
                async with httpx2.AsyncClient() as http:
                    wrong = await http.post(url, json={}, headers={"Authorization": f"Bearer {BEARER[:-1]}x"})
                    seen.add(wrong.status_code, wrong.headers, wrong.text)
                own_files = [token_file, run_dir / "state" / "state.db", inputs / ".." / "run" / "state"]
                await _drive(url, seen, spec, own_files)
                oa_state = oa.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
                received = json.dumps(
                    [t.secrets for t in oa_state.threads.values()] + [r.secrets for r in oa_state.runs.values()]
                )
        stderr = b"".join(chunks).decode()
    secrets = [WOP_KEY, SYN_KEY, PASSWORD, OPENAI, TAVILY, ANTHROPIC, GEMINI, BEARER, STATE_KEY, token]
    assert wrong.status_code == 401
    assert "DEBUG" in stderr, "the server's debug log was not captured"
    assert "***" in "\n".join(seen.texts), "the careless server echoed secrets: runbridge must have scrubbed them"
    for own in (WOP_KEY, SYN_KEY, BEARER, STATE_KEY, token):
        assert own not in received, "one of runbridge's own credentials reached the orchagent server"
    assert OPENAI in received, "the provider keys the calls named must have been sent"
    shown = "\n".join(seen.texts) + "\n".join(said)
    # In this process: runbridge's login, the sandboxes; the test's own client logs what it sends, pasted value too.
    here = [r.getMessage() for r in caplog.records if not r.name.startswith("mcp.client")]
    logs = stderr + "\n".join(here)
    written = {p: p.read_bytes() for p in files(tmp_path, skip={gemini, token_file})}
    assert any(p.name.startswith("state.db") for p in written), "the state DB was not written where expected"
    for secret in secrets:
        assert secret not in shown, f"{secret} reached the client"
        assert secret not in logs, f"{secret} reached a log line"
        for path, content in written.items():
            assert secret.encode() not in content, f"{secret} was written to {path.relative_to(tmp_path)}"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert set(json.loads(token_file.read_text(encoding="utf-8"))) == {"access_token"}
    assert run_logout(profiles["oa"], say=said.append) == 0
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600


def test_the_request_state_key_runbridge_writes_is_mode_0600_in_a_0700_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RUNBRIDGE_STATE_KEY", raising=False)
    state = tmp_path / "state" / "state.db"
    build_server(Settings(state_path=str(state)))
    key = state.with_name("request-state.key")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    build_server(Settings(state_path=str(state)))  # a restart reads it back, and leaves it as it was
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


PLATFORM_KEY = "SENTINEL-platform-key-6a0d42f9"
PLATFORM_LLM = "SENTINEL-platform-llm-e81b3c07"
ORQ_KEY = "SENTINEL-orq-key-3f9e2a61"
LANGGRAPH_KEY = "SENTINEL-langgraph-key-c47d1b58"
AGENT_ENV = {
    "RB_SECRET_PLATFORM_KEY": PLATFORM_KEY,
    "RB_SECRET_PLATFORM_LLM": PLATFORM_LLM,
    "RB_SECRET_ORQ_KEY": ORQ_KEY,
    "RB_SECRET_LANGGRAPH_KEY": LANGGRAPH_KEY,
    "RB_SECRET_BEARER": BEARER,
    "RUNBRIDGE_STATE_KEY": STATE_KEY,
}


async def _drive_agents(url: str, seen: Seen) -> list[dict[str, Any]]:
    """The tools that matter on each: agent calls with progress and every usage view (platform, with a careless
    agent that echoes the LLM key it was sent), a task through its client-tool-call gate and a responses call (orq),
    a run and a thread message through an interrupt (LangGraph); the run tools on each, and errors. The finished
    reports."""
    pf, orq, lg = ({"profile": name} for name in ("pf", "orq", "lg"))
    reports: list[dict[str, Any]] = []
    async with sentinel_client(url, "legacy", seen) as client:
        await seen.call(client, "profiles_list", {})
        for profile in (pf, orq, lg):
            await seen.call(client, "targets_list", profile)
        await seen.call(client, "agents_list", {**pf, "search": "audit"})
        await seen.call(client, "agents_get", {**pf, "agent_id": "acme/byok-writer"})
        await seen.call(client, "agents_list", orq)
        for profile, args in [
            (pf, {"agent_id": "acme/repo-auditor", "input": {"repo": "acme/api"}}),
            (pf, {"agent_id": "acme/byok-writer", "input": {"topic": "tides", "echo_key": True}}),
            (orq, {"agent_id": "weather-agent", "message": "Lisbon"}),
            (orq, {"agent_id": "echo-agent", "message": "hi", "endpoint": "responses"}),
        ]:
            reports.append(structured(await seen.call(client, "agents_call", {**profile, **args})))
        start = {**lg, "target_id": "review", "inputs": {"topic": "wrens"}}
        reports.append(structured(await seen.call(client, "runs_start", start)))
        created = await seen.call(client, "threads_create", {**lg, "spec": {"assistant_id": "review"}})
        thread = {**lg, "thread_id": structured(created)["thread_id"]}
        reports.append(structured(await seen.call(client, "threads_send", {**thread, "user_prompt": "hello"})))
        await seen.call(client, "threads_history", thread)
        for view in ("summary", "timeseries", "breakdown", "tenants", "logs", "metrics"):
            await seen.call(client, "usage_report", {**pf, "view": view})
        seen.add(await client.read_resource("runbridge://pf/usage/logs"))
        for report in reports:
            ref = {"run_id": report["run_id"], "profile": report["profile"]}
            await seen.call(client, "runs_get", ref)
            await seen.call(client, "runs_events", {**ref, "limit": 500})
        await seen.call(client, "usage_report", {})
        await seen.call(client, "gates_list", {"include_closed": True})
        refusals = [
            await seen.call(
                client, "agents_call", {**pf, "agent_id": "acme/slack-notifier", "input": {"message": "x"}}
            ),
            await seen.call(client, "agents_call", {**pf, "agent_id": "acme/byok-writer", "input": {"fail": True}}),
            await seen.call(client, "agents_get", {**orq, "agent_id": "no-such-agent"}),
            await seen.call(client, "runs_get", {**lg, "run_id": "no-such-run"}),
        ]
        assert all(r.is_error for r in refusals), [r.content for r in refusals]
        broken = await seen.call(client, "agents_call", {**orq, "agent_id": "broken-agent", "message": "x"})
        assert broken.is_error or structured(broken)["status"] == "failed", broken.content
    async with sentinel_client(url, "auto", seen) as client:
        reports.append(
            structured(await seen.call(client, "agents_call", {**orq, "agent_id": "weather-agent", "message": "Oslo"}))
        )
        reports.append(structured(await seen.call(client, "runs_start", start)))
    return reports


async def test_no_key_of_an_agent_family_reaches_a_result_a_notification_a_log_line_an_error_or_a_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The same, on the platform, orq and langgraph sandboxes: their API keys, the LLM key a platform profile sends
    with every call, the bearer token and the requestState key."""
    caplog.set_level(logging.DEBUG)
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    seen = Seen()
    async with (
        SandboxServer("platform", api_key=PLATFORM_KEY, speed=20.0, keepalive_seconds=0.2) as platform,
        SandboxServer("orq", api_key=ORQ_KEY, keepalive_seconds=0.2) as orq,
        SandboxServer("langgraph", api_key=LANGGRAPH_KEY, keepalive_seconds=0.2) as langgraph,
    ):
        llm = {"provider": "openai", "api_key_env": "RB_SECRET_PLATFORM_LLM"}
        profiles = {
            "pf": profile_for("platform", platform, "pf", "RB_SECRET_PLATFORM_KEY", options={"llm_credentials": llm}),
            "orq": profile_for("orq", orq, "orq", "RB_SECRET_ORQ_KEY"),
            "lg": profile_for("langgraph", langgraph, "lg", "RB_SECRET_LANGGRAPH_KEY"),
        }
        config = write_config(tmp_path / "runbridge.toml", profiles, state_path=str(tmp_path / "state" / "state.db"))
        env = child_env(RUNBRIDGE_CONFIG=str(config), HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "xdg"))
        chunks: list[bytes] = []
        with anyio.fail_after(90):
            async with serving({**env, **AGENT_ENV}, port, chunks):
                reports = await _drive_agents(url, seen)
        stderr = b"".join(chunks).decode()
    assert [r["status"] for r in reports] == ["completed"] * len(reports), reports
    assert reports[1]["outputs"]["echoed"] == "my key is ***", "the careless agent's echo must have been scrubbed"
    assert reports[2]["outputs"]["text"] == "The tool said: sunny, 21 C", "the orq gate was answered"
    assert reports[4]["outputs"]["published"] is True, "the LangGraph interrupt was answered"
    assert "DEBUG" in stderr, "the server's debug log was not captured"
    shown = "\n".join(seen.texts)
    assert "turn 2" in shown, "the platform call's progress was not seen"
    here = [r.getMessage() for r in caplog.records if not r.name.startswith("mcp.client")]
    logs = stderr + "\n".join(here)
    written = {p: p.read_bytes() for p in files(tmp_path, skip=set())}
    assert any(p.name.startswith("state.db") for p in written), "the state DB was not written where expected"
    for secret in AGENT_ENV.values():
        assert secret not in shown, f"{secret} reached the client"
        assert secret not in logs, f"{secret} reached a log line"
        for path, content in written.items():
            assert secret.encode() not in content, f"{secret} was written to {path.relative_to(tmp_path)}"
