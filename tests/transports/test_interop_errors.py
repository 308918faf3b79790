"""Every answer that reports a problem parses in every official client, in both eras, over stdio: invalid tool
arguments, an unknown tool, a tool that fails, an unknown prompt or one missing its argument, and a resource that
cannot be read. Each arrives within a second, through the official TypeScript clients (`@modelcontextprotocol/sdk`
1.x and `@modelcontextprotocol/client` 2.x, in tests/interop) and the Python client, and its wire form holds no null:
a null where the protocol has an optional field made the TypeScript clients drop the invalid-arguments answer, so
the call hung to their 60 s timeout."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from typing import Any

import anyio
import pytest
from anyio.streams.buffered import BufferedByteReceiveStream
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_PARAMS
from transport_harness import ERAS, INTEROP, KEY_ENV, NODE, RUNBRIDGE, SECRET

WITHIN = 1.0  # seconds each answer may take
MODERN_META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw", "version": "0"},
    "io.modelcontextprotocol/clientCapabilities": {},
}

# (path, method, params, what a client gets: a tool result with isError, or a JSON-RPC -32602 error), and a phrase
# the answer says. The same list as tests/interop/errors.mjs.
PATHS: list[tuple[str, str, dict[str, Any], str, str]] = [
    ("invalid_arguments", "tools/call", {"name": "runs_get", "arguments": {"run_id": 5}}, "tool", "correct them"),
    ("unknown_tool", "tools/call", {"name": "no_such_tool", "arguments": {}}, "tool", "Unknown tool"),
    ("tool_error", "tools/call", {"name": "runs_get", "arguments": {"run_id": "no-such-run"}}, "tool", "not found"),
    ("unknown_prompt", "prompts/get", {"name": "no_such_prompt"}, "error", "Unknown prompt 'no_such_prompt'"),
    (
        "prompt_arguments",
        "prompts/get",
        {"name": "start_and_supervise_run", "arguments": {}},
        "error",
        "missing target_id",
    ),
    ("resource_error", "resources/read", {"uri": "runbridge://sandbox/runs/no-such-run"}, "error", "not found"),
    (
        "unknown_profile_resource",
        "resources/read",
        {"uri": "runbridge://no-such-profile/gates"},
        "error",
        "Unknown profile",
    ),
]


def _nulls(value: Any, at: str = "") -> list[str]:
    """Where `value` holds a JSON null."""
    if value is None:
        return [at or "(the message)"]
    if isinstance(value, dict):
        return [n for key, item in value.items() for n in _nulls(item, f"{at}.{key}")]  # type: ignore[misc]
    if isinstance(value, list):
        return [n for i, item in enumerate(value) for n in _nulls(item, f"{at}[{i}]")]  # type: ignore[misc]
    return []


def _check(path: str, expected: str, phrase: str, answer: dict[str, Any]) -> None:
    """`answer` (kind, isError, text or code, message) is the one the path must give."""
    if expected == "tool":
        assert answer["kind"] == "result", (path, answer)
        assert answer["isError"] is True, (path, answer)
        assert phrase in answer["text"], (path, answer)
    else:
        assert answer["kind"] == "error", (path, answer)
        assert answer["code"] == INVALID_PARAMS, (path, answer)
        assert phrase in answer["message"], (path, answer)
        assert "Traceback" not in answer["message"]
    assert SECRET not in json.dumps(answer)


@pytest.mark.anyio
@pytest.mark.parametrize("era", ["legacy", "modern"])
async def test_every_error_answer_on_the_wire_holds_no_null_and_the_right_code(
    era: str, child_env: dict[str, str]
) -> None:
    """The raw JSON-RPC lines, as any client reads them: no null anywhere, -32602 for prompt and resource
    mistakes, no stack trace on stderr."""
    meta = {"_meta": MODERN_META} if era == "modern" else {}
    with anyio.fail_after(30):
        async with await anyio.open_process([*RUNBRIDGE, "serve"], env=child_env) as process:
            assert process.stdin is not None
            assert process.stdout is not None
            assert process.stderr is not None
            stdout = BufferedByteReceiveStream(process.stdout)

            async def ask(message: dict[str, Any]) -> dict[str, Any]:
                await process.stdin.send((json.dumps(message) + "\n").encode())  # type: ignore[union-attr]
                while True:
                    line = json.loads(await stdout.receive_until(b"\n", 1_000_000))
                    if line.get("id") == message["id"]:
                        return line

            if era == "legacy":
                hello = {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "raw", "version": "0"},
                }
                await ask({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": hello})
                await process.stdin.send(b'{"jsonrpc":"2.0","method":"notifications/initialized"}\n')
            # A host lists the tools first; on the 2026 wire this first request also waits for the server to start.
            await ask({"jsonrpc": "2.0", "id": "tools", "method": "tools/list", "params": meta})
            for number, (path, method, params, expected, phrase) in enumerate(PATHS, 1):
                with anyio.fail_after(WITHIN):
                    response = await ask(
                        {"jsonrpc": "2.0", "id": number, "method": method, "params": {**params, **meta}}
                    )
                assert _nulls(response) == [], (path, response)
                if expected == "tool":
                    result = response["result"]
                    answer = {"kind": "result", "isError": result.get("isError"), "text": result["content"][0]["text"]}
                    if era == "modern":
                        assert "io.modelcontextprotocol/serverInfo" in result["_meta"], (path, result)
                    else:
                        assert "resultType" not in result, (path, result)
                        assert "_meta" not in result, (path, result)
                else:
                    answer = {"kind": "error", **response["error"]}
                _check(path, expected, phrase, answer)
            await process.stdin.aclose()
            with anyio.fail_after(10):
                await process.wait()
            stderr = b""
            async for chunk in process.stderr:  # the process has ended: this reads what it wrote, then stops
                stderr += chunk
    assert "Traceback" not in stderr.decode(errors="replace"), stderr


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ERAS)
async def test_the_python_client_gets_every_error_answer_within_a_second(mode: str, child_env: dict[str, str]) -> None:
    env = {k: v for k, v in child_env.items() if k in ("RUNBRIDGE_CONFIG", KEY_ENV)}
    params = StdioServerParameters(command=sys.executable, args=[*RUNBRIDGE[1:], "serve"], env=env)
    with anyio.fail_after(40):
        async with Client(stdio_client(params), mode=mode) as client:
            await client.list_tools()
            for path, method, arguments, expected, phrase in PATHS:
                started = time.monotonic()
                with anyio.fail_after(WITHIN):
                    try:
                        answer = await _python_call(client, method, arguments)
                    except MCPError as exc:
                        answer = {"kind": "error", "code": exc.code, "message": exc.message}
                assert time.monotonic() - started < WITHIN
                _check(path, expected, phrase, answer)


async def _python_call(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    if method == "tools/call":
        result = await client.call_tool(params["name"], params["arguments"])
        return {"kind": "result", "isError": result.is_error, "text": result.content[0].text}  # type: ignore[union-attr]
    if method == "prompts/get":
        await client.get_prompt(params["name"], params.get("arguments"))
    else:
        await client.read_resource(params["uri"])
    return {"kind": "result", "isError": False, "text": ""}


@pytest.mark.node
@pytest.mark.skipif(NODE is None, reason="Node.js is not installed (the interop test needs `node` on PATH)")
@pytest.mark.parametrize(
    ("sdk", "era"),
    [("1", "legacy"), ("2", "legacy"), ("2", "modern")],
    ids=["sdk-1.x-2025", "client-2.x-2025", "client-2.x-2026"],
)
def test_the_typescript_clients_get_every_error_answer_within_a_second(
    sdk: str, era: str, child_env: dict[str, str]
) -> None:
    package = "sdk" if sdk == "1" else "client"
    if not (INTEROP / "node_modules" / "@modelcontextprotocol" / package).is_dir():
        pytest.skip("tests/interop/node_modules is missing: run `npm ci --prefix tests/interop` (.ci/run does)")
    assert NODE is not None
    command = [NODE, str(INTEROP / "errors.mjs"), "--sdk", sdk, "--era", era, "--", *RUNBRIDGE, "serve"]
    done = subprocess.run(command, env=child_env, capture_output=True, text=True, timeout=90, cwd=INTEROP)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["era"] == era
    answers = {a["path"]: a for a in summary["answers"]}
    assert list(answers) == [p[0] for p in PATHS]
    for path, _, _, expected, phrase in PATHS:
        answer = answers[path]
        assert answer["ms"] < WITHIN * 1000, f"{path} took {answer['ms']} ms: {answer}"
        _check(path, expected, phrase, answer)
