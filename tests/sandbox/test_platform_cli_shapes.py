"""Each answer of the platform sandbox has the shape the official orchagent.io CLI reads, endpoint by endpoint.

orchagent.io is hosted only and its CLI's npm package is not installable here, but its request code is public
(`orchagent/orchagent-cli`, TypeScript): `SHAPES` names, for every endpoint the sandbox serves, the CLI file (and
commit) whose code reads the answer, the type or function there, and the fields that code reads. The test asks the
sandbox and checks that every one of those fields is there, with the JSON type the CLI's TypeScript type gives it.
A sandbox shape that drifts from what the CLI reads fails here, naming the file to read again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx2
import pytest

from runbridge.sandbox import SandboxServer

CLI = "orchagent/orchagent-cli"
API_TS = "cli/src/lib/api.ts@3838703"
TYPES_TS = "cli/src/types.ts@017cf75"
LOGS_TS = "cli/src/commands/logs.ts@1946300"
CALL_TS = "cli/src/commands/call.ts@017cf75"
SSE_TS = "cli/src/lib/sse.ts@1631f83"

STR, INT, BOOL, LIST, OBJ, NUM = "string", "integer", "boolean", "array", "object", "number"
_TYPES: dict[str, type | tuple[type, ...]] = {STR: str, INT: int, BOOL: bool, LIST: list, OBJ: dict, NUM: (int, float)}


@dataclass(frozen=True)
class Shape:
    """`method path` answers what `reader` in `source` reads: `fields` (name -> JSON type; `?` after a type: may
    be null) at `at` (a key path into the answer; `[]` for every item of a list)."""

    method: str
    path: str
    source: str
    reader: str
    fields: dict[str, str]
    at: tuple[str, ...] = ()
    body: dict[str, Any] | None = None
    status: int = 200


PUBLIC_AGENT = {
    "id": STR,
    "org_name": STR,
    "org_slug": STR,
    "name": STR,
    "version": STR,
    "default_endpoint": STR,
    "created_at": STR,
    "type": STR,
    "description": STR,
    "stars_count": INT,
    "tags": LIST,
    "supported_providers": LIST,
    "pricing_mode": STR,
    "price_per_call_cents": INT,
}
AGENT = {
    "id": STR,
    "name": STR,
    "version": STR,
    "type": STR,
    "created_at": STR,
    "org_slug": STR,
    "org_id": STR,
    "default_endpoint": STR,
    "input_schema": OBJ,
    "output_schema": OBJ,
    "is_public": BOOL,
    "tags": LIST,
    "pricing_mode": STR,
    "price_per_call_cents": INT,
    "source_url": "string?",
}
RUN_SUMMARY = {
    "id": STR,
    "agent_name": STR,
    "agent_version": STR,
    "status": STR,
    "error_message": "string?",
    "duration_ms": "integer?",
    "trigger_source": "string?",
    "started_at": "string?",
    "created_at": STR,
}
RUN_LOGS = {
    "run_id": STR,
    "agent_name": "string?",
    "agent_version": "string?",
    "run_status": "string?",
    "error_message": "string?",
    "input_data": "object?",
    "output_data": "object?",
    "has_execution_log": BOOL,
    "stdout": "string?",
    "stderr": "string?",
    "exit_code": "integer?",
    "execution_time_ms": "integer?",
}
ERROR = {"code": STR, "message": STR, "is_retryable": BOOL}

SHAPES: list[Shape] = [
    Shape(
        "GET",
        "/public/agents",
        API_TS,
        "listPublicAgents/searchAgents -> PublicAgent[] (types.ts)",
        PUBLIC_AGENT,
        ("[]",),
    ),
    Shape(
        "GET",
        "/public/agents/acme/summarizer/v2",
        API_TS,
        "getPublicAgent -> PublicAgent (types.ts: schema fields from the detail endpoint)",
        {**PUBLIC_AGENT, "input_schema": OBJ, "output_schema": OBJ, "org_id": STR},
    ),
    Shape(
        "GET",
        "/public/agents/acme/invoice-scanner/v1/download",
        API_TS,
        "parseError: payload.error.message",
        ERROR,
        ("error",),
        status=403,
    ),
    Shape("GET", "/agents", API_TS, "listMyAgents -> Agent[] (types.ts)", AGENT, ("[]",)),
    Shape(
        "POST",
        "/agents",
        API_TS,
        "createAgent -> {agent: Agent, service_key?}",
        AGENT,
        ("agent",),
        body={"name": "shape-check", "type": "prompt", "description": "d", "prompt": "p"},
        status=201,
    ),
    Shape(
        "GET",
        "/agents/{own}/delete-check",
        API_TS,
        "checkAgentDelete",
        {"agent_id": STR, "agent_name": STR, "stars_count": INT, "fork_count": INT, "requires_confirmation": BOOL},
    ),
    Shape(
        "POST",
        "/agents/{public}/fork",
        API_TS,
        "forkAgent -> ForkAgentResponse {agent: Agent}",
        AGENT,
        ("agent",),
        body={"new_name": "forked-shape"},
        status=201,
    ),
    Shape("DELETE", "/agents/{own}", API_TS, "deleteAgent", {"deleted": BOOL, "agent_id": STR, "agent_name": STR}),
    Shape(
        "GET",
        "/workspaces",
        LOGS_TS,
        "WorkspacesResponse / resolveWorkspaceId",
        {"id": STR, "name": STR, "slug": STR, "type": STR},
        ("workspaces", "[]"),
    ),
    Shape(
        "GET",
        "/workspaces/ws_acme_personal/runs?limit=5",
        LOGS_TS,
        "RunsListResponse {runs, total}",
        RUN_SUMMARY,
        ("runs", "[]"),
    ),
    Shape("GET", "/workspaces/ws_acme_personal/runs?limit=5", LOGS_TS, "RunsListResponse.total", {"total": INT}),
    Shape("GET", "/workspaces/ws_acme_personal/runs/{run}/logs", LOGS_TS, "RunLogsResponse (showRunLogs)", RUN_LOGS),
    Shape(
        "POST",
        "/acme/summarizer/v2/analyze",
        CALL_TS,
        "the success payload printed, and the envelope's data",
        {"data": OBJ, "metadata": OBJ},
        body={"text": "shape"},
    ),
    Shape(
        "POST",
        "/acme/slack-notifier/v1/run",
        CALL_TS,
        "payload.error.code / payload.error.message",
        ERROR,
        ("error",),
        body={"message": "x"},
        status=400,
    ),
    Shape(
        "POST",
        "/acme/invoice-scanner/v1/analyze",
        CALL_TS,
        "402 or error.code INSUFFICIENT_CREDITS",
        ERROR,
        ("error",),
        body={"text": "x"},
        status=402,
    ),
]


@pytest.fixture(scope="module")
def platform() -> Iterator[SandboxServer]:
    with SandboxServer("platform") as server:
        yield server


@pytest.fixture(scope="module")
def ids(platform: SandboxServer) -> dict[str, str]:
    return _ids(platform)


def _ids(sandbox: SandboxServer) -> dict[str, str]:
    agents = httpx2.get(f"{sandbox.base_url}/agents", headers=sandbox.headers).json()
    public = httpx2.get(f"{sandbox.base_url}/public/agents/joe/leak-finder/v1").json()
    runs = httpx2.get(f"{sandbox.base_url}/workspaces/ws_acme_personal/runs?limit=1", headers=sandbox.headers).json()
    return {
        "own": next(a["id"] for a in agents if a["name"] == "flaky"),
        "public": public["id"],
        "run": runs["runs"][0]["id"],
    }


def _at(doc: Any, path: tuple[str, ...]) -> list[Any]:
    items = [doc]
    for key in path:
        items = [x for item in items for x in item] if key == "[]" else [item[key] for item in items]
    return items


def _check(value: Any, kind: str) -> bool:
    nullable = kind.endswith("?")
    return (nullable and value is None) or (
        isinstance(value, _TYPES[kind.rstrip("?")]) and not (kind.rstrip("?") in (INT, NUM) and isinstance(value, bool))
    )


@pytest.mark.parametrize("shape", SHAPES, ids=[f"{s.method} {s.path} ({s.source})" for s in SHAPES])
def test_the_sandbox_answers_what_the_cli_reads(shape: Shape, platform: SandboxServer, ids: dict[str, str]) -> None:
    if shape.status == 402:
        httpx2.post(f"{platform.base_url}/_sandbox/platform", json={"balance_cents": 0}).raise_for_status()
    try:
        path = shape.path.format(**ids)
        response = httpx2.request(shape.method, f"{platform.base_url}{path}", headers=platform.headers, json=shape.body)
    finally:
        if shape.status == 402:
            httpx2.post(f"{platform.base_url}/_sandbox/platform", json={"balance_cents": 5000})
    where = f"{CLI}: {shape.source}, {shape.reader}"
    assert response.status_code == shape.status, f"{where}: HTTP {response.status_code} {response.text[:200]}"
    items = _at(response.json(), shape.at)
    assert items, f"{where}: nothing at {shape.at}"
    for item in items:
        for name, kind in shape.fields.items():
            assert name in item, f"{where} reads {name!r}: missing in {json.dumps(item)[:300]}"
            assert _check(item[name], kind), f"{where} reads {name!r} as {kind}: got {item[name]!r}"


def test_every_answer_carries_the_quota_headers_the_overview_documents(platform: SandboxServer) -> None:
    """The API overview's rate-limit headers (the CLI reads none of them; runbridge reads all three)."""
    for path in ("/public/agents", "/agents", "/workspaces", "/nowhere/at/all/x"):
        response = httpx2.get(f"{platform.base_url}{path}", headers=platform.headers)
        assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"} <= set(response.headers), path


def test_a_streamed_call_parses_with_the_clis_sse_rules(platform: SandboxServer) -> None:
    """`SSE_TS` parseSSE: frames split on a blank line, `event: ` and `data: ` with a space, several `data: ` lines
    joined with a newline; the call's `result` carries the success envelope, and X-Run-Id names the workspace run."""
    headers = {**platform.headers, "Accept": "text/event-stream"}
    with httpx2.stream(
        "POST", f"{platform.base_url}/acme/repo-auditor/v1/run", headers=headers, json={"repo": "r"}
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        run_id = response.headers["x-run-id"]
        text = response.read().decode()
    frames = []
    for part in text.split("\n\n"):
        if not part.strip():
            continue
        event, data = "message", ""
        for line in part.split("\n"):
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data += ("\n" if data else "") + line[6:]
        frames.append((event, json.loads(data)))
    assert {e for e, _ in frames} == {"progress", "result"}
    assert frames[-1][0] == "result"
    assert set(frames[-1][1]) >= {"data", "metadata"}
    assert [d["type"] for e, d in frames if e == "progress"][:3] == ["turn_start", "tool_call", "tool_result"]
    logs = httpx2.get(f"{platform.base_url}/workspaces/ws_acme_personal/runs/{run_id}/logs", headers=platform.headers)
    assert logs.json()["run_status"] == "completed"
