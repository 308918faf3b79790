"""A 2026 retry that does not answer the gate, on the OpenWOP SQLite reference host: runbridge over stdio, driven by
the official MCP client in the 2026 era. A retry whose sealed `requestState` is valid but which carries no answer, or
one that does not fit the form, gets the same question again (a new `input_required`); the host's interrupt stays
open and untouched, and the answer that fits then completes the one run on the host."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client
from mcp_types import CallToolResult, ElicitResult, InputRequiredResult
from openwop_host_api import APPROVAL, host_run
from real_backends import HostProcess
from real_client import Runbridge, openwop_profile, structured

pytestmark = pytest.mark.anyio

ARGS = {"target_id": APPROVAL, "wait_seconds": 15}


def _host_db(host: HostProcess, query: str, *params: Any) -> Any:
    with sqlite3.connect(f"file:{host.env['OPENWOP_SQLITE_PATH']}?mode=ro", uri=True, timeout=10) as db:
        return db.execute(query, params).fetchone()


async def _retry(client: Client, state: str, responses: dict[str, ElicitResult] | None) -> Any:
    with anyio.fail_after(60):
        return await client.session.call_tool(
            "runs_start", ARGS, input_responses=responses, request_state=state, allow_input_required=True
        )


async def test_a_retry_without_a_fitting_answer_is_asked_again_and_the_host_run_completes_once(
    openwop_sqlite: HostProcess, real_key: str, workdir: Path
) -> None:
    rb = Runbridge(workdir, openwop_profile(openwop_sqlite.base_url, [APPROVAL]), real_key)
    count = "SELECT count(*) FROM runs WHERE workflow_id = ?"
    before = _host_db(openwop_sqlite, count, APPROVAL)[0]
    async with rb.connect("modern") as client:
        with anyio.fail_after(60):
            asked = await client.session.call_tool("runs_start", ARGS, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult), asked
        assert asked.request_state
        first = asked.input_requests["gate"].params
        missing = await _retry(client, asked.request_state, None)
        assert isinstance(missing, InputRequiredResult), missing
        assert missing.request_state
        unfit = {"gate": ElicitResult(action="accept", content={"decision": "maybe"})}
        misfit = await _retry(client, missing.request_state, unfit)
        assert isinstance(misfit, InputRequiredResult), misfit
        assert misfit.request_state
        latest = "SELECT run_id, status FROM runs WHERE workflow_id = ? ORDER BY rowid DESC LIMIT 1"
        run_id, waiting_status = _host_db(openwop_sqlite, latest, APPROVAL)
        interrupt = _host_db(openwop_sqlite, "SELECT outcome FROM interrupts WHERE run_id = ?", run_id)
        accept = {"gate": ElicitResult(action="accept", content={"decision": "accept"})}
        done = await _retry(client, misfit.request_state, accept)
    assert isinstance(done, CallToolResult)
    report = structured(done)
    for again, why in [
        (missing, "The retried call carried no answer"),
        (misfit, "The answer did not fit the question"),
    ]:
        question = again.input_requests["gate"].params
        assert question.message.startswith(why), question.message
        assert question.message.endswith(first.message)
        assert question.requested_schema == first.requested_schema  # type: ignore[union-attr]
    assert "'maybe'" in misfit.input_requests["gate"].params.message
    assert interrupt == (None,), "the host's interrupt was touched by a retry that did not answer it"
    assert report["status"] == "completed", report
    assert report["run_id"] == run_id
    assert waiting_status not in ("completed", "failed", "cancelled"), waiting_status
    assert host_run(openwop_sqlite, real_key, report["run_id"])["status"] == "completed"
    assert _host_db(openwop_sqlite, "SELECT outcome FROM interrupts WHERE run_id = ?", report["run_id"]) == (
        "accepted",
    )
    assert _host_db(openwop_sqlite, count, APPROVAL)[0] == before + 1, "one run on the host, whatever the retries"
