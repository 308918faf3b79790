"""No secret leaves where it belongs, tested as a system: `runbridge serve --http` in a subprocess (debug logs on)
on three sandboxes, driven by the official client in both eras, with a sentinel value in every secret a profile or a
call can carry: each family's API key (environment variables), the orchagent token file (written by `runbridge
login`, with its password), orchagent provider keys (from the profile, from `threads_set_secrets` and the call,
from variables and from a file), the HTTP bearer token, and the requestState key. The orchagent server is the
careless variant that echoes secrets back; calls naming runbridge's own credentials as secret references are
refused, and the orchagent server never receives them. None of the values may appear in a tool result, a notification, a
question, a resource, an error, the server's stderr, or any file the run wrote; the token files runbridge writes are
mode 0600. (tests/e2e/test_orchagent_secrets.py checks the orchagent scrubbing in process, per era; this adds every
family, the transport, the process's own log and its files.)"""

from __future__ import annotations

import json
import logging
import signal
import stat
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import ElicitResult
from surface_harness import RUNBRIDGE, child_env, free_port, profile_for, wait_for_port, write_config

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
BEARER = "SENTINEL-bearer-token-5d9a0c6b"
STATE_KEY = "SENTINEL-state-key-0123456789abcdef0123456789"
ENV = {
    "RB_SECRET_WOP_KEY": WOP_KEY,
    "RB_SECRET_SYN_KEY": SYN_KEY,
    "RB_SECRET_OPENAI": OPENAI,
    "RB_SECRET_TAVILY": TAVILY,
    "RB_SECRET_ANTHROPIC": ANTHROPIC,
    "RB_SECRET_BEARER": BEARER,
    "RUNBRIDGE_STATE_KEY": STATE_KEY,
}


class Seen:
    """Everything the client was shown: results, notifications (progress, logs), questions, resources."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *items: Any) -> None:
        for item in items:
            self.texts.append(item.model_dump_json() if hasattr(item, "model_dump_json") else repr(item))

    async def human(self, _ctx: Any, params: Any) -> ElicitResult:
        """Yes to everything: the first approving option of each choice, `done` for a confirmation."""
        self.add(params)
        if getattr(params, "mode", "form") == "url":
            return ElicitResult(action="accept")
        answer: dict[str, Any] = {}
        for name, prop in params.requested_schema.get("properties", {}).items():
            options = [o["const"] for o in prop.get("oneOf", [])] or prop.get("enum") or []
            if options:
                answer[name] = next((o for o in options if o in ("approve", "accept")), options[0])
            elif prop.get("type") == "boolean":
                answer[name] = True
        return ElicitResult(action="accept", content=answer)

    async def message(self, message: Any) -> None:
        self.add(message)

    async def progress(self, progress: float, total: float | None, text: str | None) -> None:
        self.add(text)

    async def call(self, client: Client, name: str, args: dict[str, Any]) -> Any:
        result = await client.call_tool(name, args, progress_callback=self.progress)
        self.add(result)
        return result


@asynccontextmanager
async def _client(url: str, mode: str, seen: Seen) -> AsyncIterator[Client]:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {BEARER}"}, timeout=30) as http,
        Client(
            streamable_http_client(url, http_client=http),
            mode=mode,
            elicitation_callback=seen.human,
            message_handler=seen.message,
            logging_callback=seen.message,
            log_level="debug",
        ) as client,
    ):
        yield client


def _structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return result.structured_content


async def _drive(url: str, seen: Seen, spec: Path, own_files: list[Path]) -> None:
    async with _client(url, "legacy", seen) as client:
        await seen.call(client, "profiles_list", {})
        for profile in ("wop", "syn"):
            await seen.call(client, "targets_list", {"profile": profile})
        wop = _structured(await seen.call(client, "runs_start", {"target_id": "approval-demo", "profile": "wop"}))
        syn = _structured(
            await seen.call(client, "runs_start", {"target_id": "orch-research-report", "profile": "syn"})
        )
        assert (wop["status"], syn["status"]) == ("completed", "completed"), (wop, syn)
        thread = _structured(await seen.call(client, "threads_create", {"path": str(spec), "profile": "oa"}))[
            "thread_id"
        ]
        refs = {"secrets_from_env": {"TAVILY_API_KEY": "RB_SECRET_TAVILY"}}
        await seen.call(client, "threads_set_secrets", {"thread_id": thread, "profile": "oa", **refs})
        ask = {"thread_id": thread, "user_prompt": "Book a sync", "profile": "oa"}
        asked = await seen.call(
            client, "threads_ask", {**ask, "secrets_from_env": {"providers.openai.api_key": "RB_SECRET_OPENAI"}}
        )
        run_id = _structured(asked)["run_id"]
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
    async with _client(url, "auto", seen) as client:
        modern = await seen.call(client, "runs_start", {"target_id": "approval-demo", "profile": "wop"})
        assert _structured(modern)["status"] == "completed"
        await seen.call(client, "threads_ask", {**ask, "user_prompt": "Again"})


def _files(root: Path, skip: set[Path]) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and p not in skip]


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
        command = [*RUNBRIDGE, "--log-level", "DEBUG", "serve", "--http", "--port", str(port)]
        chunks: list[bytes] = []

        async def read_stderr(stream: Any) -> None:  # read as it comes: a full pipe would stall the server
            async for chunk in stream:
                chunks.append(chunk)

        with anyio.fail_after(90):
            async with (
                await anyio.open_process([*command, "--token-env", "RB_SECRET_BEARER"], env=env) as process,
                anyio.create_task_group() as readers,
            ):
                assert process.stderr is not None
                readers.start_soon(read_stderr, process.stderr)
                try:
                    await wait_for_port(port)
                    async with httpx2.AsyncClient() as http:
                        wrong = await http.post(url, json={}, headers={"Authorization": f"Bearer {BEARER[:-1]}x"})
                        seen.add(wrong.status_code, wrong.headers, wrong.text)
                    own_files = [token_file, run_dir / "state" / "state.db", inputs / ".." / "run" / "state"]
                    await _drive(url, seen, spec, own_files)
                    oa_state = oa.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
                    received = json.dumps(
                        [t.secrets for t in oa_state.threads.values()] + [r.secrets for r in oa_state.runs.values()]
                    )
                finally:
                    process.send_signal(signal.SIGTERM)
                    await process.wait()
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
    written = {p: p.read_bytes() for p in _files(tmp_path, skip={gemini, token_file})}
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
