"""When a failed answer closes a gate, on the real OpenWOP SQLite host, through the adapter itself.

The host answers 404 `interrupt_not_found` both for an interrupt already answered and for an external event asked
on the run-scoped path (it takes those only through their token). runbridge must tell the two apart by the run's
snapshot: only a run that no longer waits on the gate closes it. These paths cannot be reached over MCP once the
adapter answers external events through their token, so the adapter is driven here directly.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from real_backends import HostProcess
from test_openwop_gates import APPROVAL, EXTERNAL, host_run

from runbridge.backends.openwop import OpenWopBackend
from runbridge.core.config import Profile
from runbridge.core.errors import GateError
from runbridge.core.models import Gate, GateAnswer, StartRequest
from runbridge.http import HttpClient, Secret

pytestmark = pytest.mark.anyio


@pytest.fixture
async def backend(openwop_sqlite: HostProcess, real_key: str) -> AsyncIterator[OpenWopBackend]:
    profile = Profile(name="real", family="openwop", base_url=openwop_sqlite.base_url, workflows=[APPROVAL, EXTERNAL])
    adapter = OpenWopBackend(profile, HttpClient(profile, secret=Secret(real_key)))
    yield adapter
    await adapter.aclose()


async def _waiting_gate(backend: OpenWopBackend, workflow: str) -> Gate:
    run = await backend.start_run(StartRequest(target_id=workflow))
    with anyio.fail_after(15):
        while True:  # the host suspends within milliseconds; bounded by the deadline above
            snapshot = await backend.get_run(run.run_id)
            if snapshot.open_gate is not None:
                return snapshot.open_gate
            await anyio.sleep(0.05)


async def test_an_external_event_without_its_token_is_answered_through_the_token_the_snapshot_carries(
    backend: OpenWopBackend, openwop_sqlite: HostProcess, real_key: str
) -> None:
    gate = await _waiting_gate(backend, EXTERNAL)
    assert gate.resume.get("token")
    # A gate recorded without its token (as runbridge once did): the run-scoped path answers 404 although the run
    # waits; the snapshot still offers the token, and the answer goes there.
    tokenless = gate.model_copy(update={"resume": {k: v for k, v in gate.resume.items() if k != "token"}})
    answer = GateAnswer(decision="accept", values={"eventPayload": "{}"})
    outcome = await backend.resolve_gate(tokenless, answer)
    assert outcome["resolved"] is True
    assert outcome["via"] == "token"
    with anyio.fail_after(15):
        while host_run(openwop_sqlite, real_key, gate.run_id)["status"] != "completed":
            await anyio.sleep(0.05)


async def test_a_second_answer_to_an_answered_approval_closes_the_gate_and_a_refusal_leaves_it_open(
    backend: OpenWopBackend, openwop_sqlite: HostProcess, real_key: str
) -> None:
    gate = await _waiting_gate(backend, APPROVAL)
    # An action the host does not list: it refuses (400), and the gate stays open with the host's reason.
    wrong = gate.model_copy(update={"fields": [gate.fields[0].model_copy(update={"options": ["escalate"]})]})
    with pytest.raises(GateError) as refused:
        await backend.resolve_gate(wrong, GateAnswer(decision="accept", values={"decision": "escalate"}))
    assert refused.value.closed is False
    assert "validation_error" in str(refused.value)
    assert host_run(openwop_sqlite, real_key, gate.run_id)["status"] == "waiting-approval"

    await backend.resolve_gate(gate, GateAnswer(decision="accept", values={"decision": "accept"}))
    with pytest.raises(GateError) as again:
        await backend.resolve_gate(gate, GateAnswer(decision="accept", values={"decision": "accept"}))
    assert again.value.closed is True, "the host answered 404 and the run no longer waits: the gate is gone"
