"""A prompt cannot turn a file reference into a leak: through the official MCP client, runbridge (configured by a
runbridge.toml, on the orchagent sandbox) is asked to read an MCP host's configuration file holding its OpenWOP key,
a renamed copy of it, a hard link to its token file and a spec outside the allowed directories as workflow specs,
and to send the host's configuration file and a pasted secret through `secrets_from_file`. Each is a tool error
that names the reference and never a value, and the sandbox ends with no thread and no stored secret from them; a
spec beside runbridge.toml and a provider key file still work. Over stdio, with no configuration file, spec files
come only from `$RUNBRIDGE_SPEC_DIRS`."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp_types import CallToolResult, TextContent

from runbridge.core import load_settings
from runbridge.http import write_token_file
from runbridge.sandbox import SandboxServer
from runbridge.sandbox.orchagent import OrchagentState
from runbridge.server import build_server

pytestmark = pytest.mark.anyio

WOP_KEY = "SENTINEL-files-openwop-key-2b7d"
PROVIDER = "SENTINEL-files-provider-key-c3e1"
PASTED = "sk-SENTINEL-files-pasted-9a0f"


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent", keepalive_seconds=0.2) as server:
        yield server


def _private(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    path.chmod(0o600)
    return path


def _text(result: CallToolResult) -> str:
    return "\n".join(part.text for part in result.content if isinstance(part, TextContent))


def _refusal(result: CallToolResult, token: str) -> str:
    assert result.is_error, result.structured_content
    text = _text(result)
    for value in (WOP_KEY, token, PASTED):
        assert value not in text
    assert "Traceback" not in text
    return text


async def test_host_configs_credential_holders_hard_links_and_files_outside_the_allowed_dirs_are_never_sent(
    sandbox: SandboxServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("OA_FILES_WOP_KEY", WOP_KEY)
    project = tmp_path / "project"
    token_file = tmp_path / "creds" / "token.json"
    write_token_file(token_file, sandbox.api_key)
    config = _private(
        project / "runbridge.toml",
        f'[server]\nstate_path = "{tmp_path}/state/state.db"\ndefault_profile = "oa"\nwait_seconds = 10\n'
        f'[profiles.oa]\nfamily = "orchagent"\nbase_url = "{sandbox.base_url}"\ntoken_file = "{token_file}"\n'
        f'[profiles.wop]\nfamily = "openwop"\nbase_url = "http://127.0.0.1:9"\napi_key_env = "OA_FILES_WOP_KEY"\n',
    )
    host_config = json.dumps({"mcpServers": {"runbridge": {"env": {"OA_FILES_WOP_KEY": WOP_KEY}}}})
    claude = _private(project / "claude_desktop_config.json", host_config)
    copy = _private(project / "workflow.json", host_config)
    os.link(token_file, project / "spec.json")
    outside = _private(tmp_path / "elsewhere" / "chat.json", json.dumps({"workflow": "chat"}))
    good = _private(project / "workflows" / "chat.json", json.dumps({"workflow": "chat"}))
    provider = _private(tmp_path / "keys" / "provider.key", PROVIDER)
    state: OrchagentState = sandbox.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
    token = sandbox.api_key
    settings = load_settings(config)
    assert settings.config_file == config.resolve()

    with anyio.fail_after(30):
        async with Client(build_server(settings)) as client:
            before = set(state.threads)
            refused = {
                claude: "Claude Desktop's configuration file",
                copy: "holding the credential of profile 'wop'",
                project / "spec.json": "token file of profile 'oa'",
                outside: "reads spec files only from",
            }
            for path, why in refused.items():
                text = _refusal(await client.call_tool("threads_create", {"path": str(path)}), token)
                assert why in text, text
            assert set(state.threads) == before, "a refused spec file reached the backend"

            created = await client.call_tool("threads_create", {"path": str(good)})
            assert not created.is_error, _text(created)
            thread = state.threads[(created.structured_content or {})["thread_id"]]
            for refs, why in [
                ({"providers.openai.api_key": str(claude)}, "Claude Desktop's configuration file"),
                ({"providers.openai.api_key": PASTED}, "providers.openai.api_key does not exist"),
            ]:
                result = await client.call_tool(
                    "threads_set_secrets", {"thread_id": thread.thread_id, "secrets_from_file": refs}
                )
                assert why in _refusal(result, token)
            assert thread.secrets == {}, "a refused file's content was stored"
            stored = await client.call_tool(
                "threads_set_secrets",
                {"thread_id": thread.thread_id, "secrets_from_file": {"providers.openai.api_key": str(provider)}},
            )
    assert not stored.is_error, _text(stored)
    assert thread.secrets == {"providers": {"openai": {"api_key": PROVIDER}}}
    sent = json.dumps([[t.spec, t.secrets] for t in state.threads.values()])
    assert WOP_KEY not in sent
    assert token not in sent


async def test_over_stdio_without_a_configuration_file_spec_files_come_only_from_runbridge_spec_dirs(
    sandbox: SandboxServer, tmp_path: Path
) -> None:
    # `python -m runbridge serve` as a host starts it, configured by environment variables only (no runbridge.toml
    # in its working directory): the orchagent and OpenWOP profiles come from their variables.
    home, allowed, other = tmp_path / "home", tmp_path / "allowed", tmp_path / "other"
    token_file = home / ".orchagent" / "token.json"
    write_token_file(token_file, sandbox.api_key)
    good = _private(allowed / "chat.json", json.dumps({"workflow": "chat"}))
    outside = _private(other / "chat.json", json.dumps({"workflow": "chat"}))
    host_config = json.dumps({"mcpServers": {"runbridge": {"env": {"OPENWOP_API_KEY": WOP_KEY}}}})
    claude = _private(allowed / "claude_desktop_config.json", host_config)
    copy = _private(allowed / "copy.json", host_config)
    env = {
        "HOME": str(home),
        "ORCHAGENT_BASE_URL": sandbox.base_url,
        "ORCHAGENT_TOKEN_FILE": str(token_file),
        "OPENWOP_BASE_URL": "http://127.0.0.1:9",
        "OPENWOP_API_KEY": WOP_KEY,
        "RUNBRIDGE_SPEC_DIRS": str(allowed),
    }
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "runbridge", "serve"], env=env, cwd=str(tmp_path)
    )
    state: OrchagentState = sandbox.apps["orchagent"].state.orchagent  # type: ignore[attr-defined]
    token = sandbox.api_key
    with tempfile.TemporaryFile("w+", encoding="utf-8") as errlog:
        with anyio.fail_after(40):
            async with Client(stdio_client(params, errlog=errlog)) as client:
                before = set(state.threads)
                answers = {
                    outside: "reads spec files only from",
                    claude: "Claude Desktop's configuration file",
                    copy: "holding the credential of profile 'openwop'",
                }
                for path, why in answers.items():
                    result = await client.call_tool("threads_create", {"path": str(path), "profile": "orchagent"})
                    assert why in _refusal(result, token)
                assert set(state.threads) == before, "a refused spec file reached the backend"
                created = await client.call_tool("threads_create", {"path": str(good), "profile": "orchagent"})
                assert not created.is_error, _text(created)
                thread_id = (created.structured_content or {})["thread_id"]
                pasted = await client.call_tool(
                    "threads_set_secrets",
                    {"thread_id": thread_id, "profile": "orchagent", "secrets_from_file": {"k": PASTED}},
                )
                assert "The secret file for k does not exist" in _refusal(pasted, token)
        errlog.seek(0)
        stderr = errlog.read()
    assert state.threads[thread_id].spec == {"workflow": "chat"}
    assert state.threads[thread_id].secrets == {}
    for value in (WOP_KEY, token, PASTED):
        assert value not in stderr, "a value reached runbridge's log"
    assert "Traceback" not in stderr
