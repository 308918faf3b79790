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
SCHEDULE_TS = "cli/src/commands/schedule.ts@1da5803"
SERVICE_TS = "cli/src/commands/service.ts@133a488"
METRICS_TS = "cli/src/commands/metrics.ts@21c9983"
BILLING_TS = "cli/src/commands/billing.ts@06b8862"
SECRETS_TS = "cli/src/commands/secrets.ts@21c9983"

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
SCHEDULE = {
    "id": STR,
    "workspace_id": STR,
    "agent_id": STR,
    "agent_name": STR,
    "agent_version": STR,
    "schedule_type": STR,
    "cron_expression": "string?",
    "timezone": STR,
    "input_data": OBJ,
    "llm_provider": "string?",
    "enabled": BOOL,
    "auto_update": BOOL,
    "last_run_at": "string?",
    "last_run_status": "string?",
    "next_run_at": "string?",
    "run_count": INT,
    "consecutive_failures": INT,
    "max_consecutive_failures": INT,
    "auto_disabled_at": "string?",
    "alert_webhook_url": "string?",
    "alert_on_failure_count": "integer?",
    "created_at": STR,
}
SERVICE = {
    "id": STR,
    "service_name": STR,
    "agent_name": STR,
    "agent_version": STR,
    "current_state": STR,
    "health_status": STR,
    "restart_count": INT,
    "consecutive_restart_failures": INT,
    "auto_paused_at": "string?",
    "last_deployed_at": "string?",
}
METRICS = {
    "total_runs": INT,
    "completed": INT,
    "failed": INT,
    "timeout": INT,
    "success_rate": NUM,
    "error_rate": NUM,
    "p50_latency_ms": INT,
    "p95_latency_ms": INT,
    "avg_latency_ms": INT,
}
TRANSACTION = {"amount_cents": INT, "balance_after_cents": INT, "transaction_type": STR, "created_at": STR}
SECRET = {
    "id": STR,
    "name": STR,
    "description": "string?",
    "secret_type": STR,
    "llm_provider": "string?",
    "created_by": "string?",
    "created_at": STR,
    "updated_at": STR,
}
_SCHEDULES = "/workspaces/ws_acme_personal/schedules"
_SERVICES = "/workspaces/ws_acme_personal/services"

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
    Shape(
        "GET",
        "/workspaces/ws_acme_personal/runs?agent_name=summarizer&status=completed&limit=200",
        LOGS_TS,
        "RunsListResponse (listRuns: agent_name, status, limit 1..200)",
        RUN_SUMMARY,
        ("runs", "[]"),
    ),
    Shape(
        "GET",
        "/workspaces/ws_acme_personal/runs?limit=200&run_id_prefix={run}",
        LOGS_TS,
        "RunsListResponse (resolveShortRunId)",
        {"id": STR},
        ("runs", "[]"),
    ),
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
    # administration and usage
    Shape("GET", _SCHEDULES, SCHEDULE_TS, "SchedulesListResponse {schedules, total}", SCHEDULE, ("schedules", "[]")),
    Shape("GET", _SCHEDULES, SCHEDULE_TS, "SchedulesListResponse.total", {"total": INT}),
    Shape(
        "POST",
        _SCHEDULES,
        SCHEDULE_TS,
        "create: ScheduleResponse.schedule, webhook_url shown once",
        {**SCHEDULE, "webhook_url": STR, "webhook_secret_preview": STR},
        ("schedule",),
        body={"agent_name": "summarizer", "schedule_type": "webhook", "timezone": "UTC"},
        status=201,
    ),
    Shape("GET", _SCHEDULES + "/{schedule}", SCHEDULE_TS, "info: ScheduleResponse", SCHEDULE, ("schedule",)),
    Shape(
        "PATCH",
        _SCHEDULES + "/{schedule}",
        SCHEDULE_TS,
        "update: ScheduleResponse",
        SCHEDULE,
        ("schedule",),
        body={"enabled": True},
    ),
    Shape(
        "POST",
        _SCHEDULES + "/{schedule}/trigger",
        SCHEDULE_TS,
        "TriggerResponse",
        {"run_id": STR, "status": STR, "duration_ms": INT, "output": "object?", "error": "string?"},
        body={},
    ),
    Shape(
        "GET",
        _SCHEDULES + "/{schedule}/runs?limit=5",
        SCHEDULE_TS,
        "ScheduleRunsResponse {runs, total}",
        {
            "id": STR,
            "status": STR,
            "error_message": "string?",
            "duration_ms": "integer?",
            "trigger_source": "string?",
            "started_at": STR,
        },
        ("runs", "[]"),
    ),
    Shape(
        "GET",
        _SCHEDULES + "/{schedule}/events?limit=5",
        SCHEDULE_TS,
        "ScheduleEventsResponse {events}",
        {"id": STR, "event_type": STR, "message": "string?", "created_at": STR},
        ("events", "[]"),
    ),
    Shape("GET", _SERVICES, SERVICE_TS, "ServicesListResponse {services, total}", SERVICE, ("services", "[]")),
    Shape("GET", _SERVICES + "/{service}", SERVICE_TS, "info: ServiceResponse", SERVICE, ("service",)),
    Shape("POST", _SERVICES + "/{service}/restart", SERVICE_TS, "restart: ServiceResponse", SERVICE, ("service",)),
    Shape(
        "GET",
        _SERVICES + "/{service}/logs?limit=5",
        SERVICE_TS,
        "LogsResponse {logs}",
        {"timestamp": "string?", "severity": STR, "message": STR},
        ("logs", "[]"),
    ),
    Shape(
        "POST",
        _SERVICES,
        SERVICE_TS,
        "deploy: ServiceResponse",
        SERVICE,
        ("service",),
        body={"agent_name": "summarizer", "agent_version": "latest", "service_name": "shape-svc"},
        status=201,
    ),
    Shape(
        "GET",
        "/workspaces/ws_acme_personal/metrics/dashboard?days=30",
        METRICS_TS,
        "MetricsDashboardResponse.overview",
        {**METRICS, "runs_per_day": NUM},
        ("overview",),
    ),
    Shape(
        "GET",
        "/workspaces/ws_acme_personal/metrics/dashboard?days=30",
        METRICS_TS,
        "MetricsDashboardResponse.agents (MetricsAgent)",
        {
            **METRICS,
            "agent_name": STR,
            "agent_id": STR,
            "latest_version": STR,
            "top_error": "string?",
            "trigger_sources": OBJ,
        },
        ("agents", "[]"),
    ),
    Shape(
        "GET",
        "/billing/credits",
        BILLING_TS,
        "balance: getCreditsBalance (api.ts) -> recent_transactions",
        TRANSACTION,
        ("recent_transactions", "[]"),
    ),
    Shape("GET", "/billing/credits", BILLING_TS, "balance: data.balance_cents", {"balance_cents": INT}),
    Shape(
        "POST",
        "/billing/add-credits",
        BILLING_TS,
        "add: createCreditCheckout (api.ts) -> checkout.checkout_url",
        {"checkout_url": STR, "session_id": STR},
        body={"amount_cents": 500},
    ),
    Shape("GET", "/workspaces/ws_acme_personal/secrets", SECRETS_TS, "list: {secrets}", SECRET, ("secrets", "[]")),
    Shape(
        "POST",
        "/workspaces/ws_acme_personal/secrets",
        SECRETS_TS,
        "set (new): {secret}",
        SECRET,
        ("secret",),
        body={"name": "SHAPE_CHECK", "value": "v-123456", "secret_type": "custom"},
        status=201,
    ),
    Shape(
        "PATCH",
        "/workspaces/ws_acme_personal/secrets/{secret}",
        SECRETS_TS,
        "set (existing): {updated, restarted_services?}",
        {"updated": BOOL, "restarted_services": LIST},
        body={"value": "v-654321"},
    ),
    # deletions last: they remove what the shapes above read
    Shape(
        "DELETE", _SCHEDULES + "/{schedule}", SCHEDULE_TS, "delete: request<{ deleted: boolean }>", {"deleted": BOOL}
    ),
    Shape(
        "DELETE",
        "/workspaces/ws_acme_personal/secrets/{secret}",
        SECRETS_TS,
        "delete (by id, after findSecretByName): request<{ deleted: boolean }>",
        {"deleted": BOOL},
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
    schedules = httpx2.get(f"{sandbox.base_url}{_SCHEDULES}", headers=sandbox.headers).json()
    services = httpx2.get(f"{sandbox.base_url}{_SERVICES}", headers=sandbox.headers).json()
    secrets = httpx2.get(f"{sandbox.base_url}/workspaces/ws_acme_personal/secrets", headers=sandbox.headers).json()
    return {
        "own": next(a["id"] for a in agents if a["name"] == "flaky"),
        "public": public["id"],
        "run": runs["runs"][0]["id"],
        "schedule": schedules["schedules"][0]["id"],
        "service": services["services"][0]["id"],
        "secret": secrets["secrets"][0]["id"],
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
