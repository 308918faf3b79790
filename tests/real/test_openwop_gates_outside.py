"""A gate answered on the OpenWOP SQLite reference host directly (as its own UI would), not through runbridge:
`runs_watch` then reports the run's real end from the host, never `waiting`, and the gate is no longer listed."""

from __future__ import annotations

from pathlib import Path

import pytest
from openwop_host_api import APPROVAL, host_call, host_run, wait_for_status
from real_backends import HostProcess
from real_client import Runbridge, call, openwop_profile, structured

pytestmark = pytest.mark.anyio


async def test_runs_watch_after_an_answer_on_the_host_reports_the_runs_real_end(
    openwop_sqlite: HostProcess, real_key: str, workdir: Path
) -> None:
    rb = Runbridge(workdir, openwop_profile(openwop_sqlite.base_url, [APPROVAL]), real_key)
    async with rb.connect("no-elicitation") as c:
        started = structured(await call(c, "runs_start", {"target_id": APPROVAL, "wait_seconds": 15}))
        run_id = started["run_id"]
        assert started["status"] == "waiting", started
        node = host_run(openwop_sqlite, real_key, run_id)["interrupt"]["nodeId"]
        status, doc = host_call(
            openwop_sqlite,
            real_key,
            "POST",
            f"/v1/runs/{run_id}/interrupts/{node}",
            {"resumeValue": {"action": "accept", "decidedAt": "2026-01-01T00:00:00Z"}},
        )
        assert status in (200, 202), (status, doc)
        assert wait_for_status(openwop_sqlite, real_key, run_id, {"completed"}) == "completed"
        watched = structured(await call(c, "runs_watch", {"run_id": run_id, "wait_seconds": 15}))
        listed = structured(await call(c, "gates_list", {"run_id": run_id}))["gates"]
    assert watched["status"] == "completed", watched
    assert watched["done"] is True
    assert not watched.get("waiting_for")
    assert listed == []
    assert host_run(openwop_sqlite, real_key, run_id)["status"] == "completed"
