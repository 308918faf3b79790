"""Answering a gate hands the run's stored locator to the adapter first (a run started before a restart, or by
another process, is reached as the one that started it would), and a failure to locate leaves the gate open."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from runbridge.bridge.answers import answer_gate
from runbridge.core.models import Gate, GateAnswer, Run, RunStatus
from runbridge.state import SqliteStore

pytestmark = pytest.mark.anyio


class Locating:
    """An adapter that finds a run only by the locator it was handed."""

    def __init__(self) -> None:
        self.located: dict[str, dict[str, str]] = {}
        self.resolved: list[str] = []

    def locate_run(self, run_id: str, locator: Mapping[str, str]) -> None:
        self.located[run_id] = dict(locator)

    async def resolve_gate(self, gate: Gate, answer: GateAnswer) -> dict[str, Any]:
        assert gate.run_id in self.located, "resolved before the run was located"
        self.resolved.append(gate.gate_id)
        return {"resolved": True}


async def _store_with_a_gate() -> SqliteStore:
    store = SqliteStore(":memory:")
    run = Run(run_id="r1", status=RunStatus.WAITING, target_id="review")
    await store.record_run("lg", run, locator={"thread_id": "t1"})
    at = datetime(2026, 1, 1, tzinfo=UTC)
    await store.record_gate("lg", Gate(gate_id="g1", run_id="r1", kind="approval", prompt="Publish?", opened_at=at))
    return store


async def test_the_runs_locator_is_handed_to_the_adapter_before_the_gate_is_answered() -> None:
    store = await _store_with_a_gate()
    backend = Locating()
    try:
        outcome = await answer_gate(store, backend, "lg", "g1", GateAnswer(decision="accept"))  # pyright: ignore[reportArgumentType]
        record = await store.get_gate("lg", "g1")
    finally:
        await store.aclose()
    assert backend.located == {"r1": {"thread_id": "t1"}}
    assert backend.resolved == ["g1"]
    assert outcome.resumed
    assert record is not None
    assert record.state == "answered"


async def test_a_failure_to_locate_the_run_leaves_the_gate_open(monkeypatch: pytest.MonkeyPatch) -> None:
    store = await _store_with_a_gate()
    backend = Locating()

    async def broken(profile: str, run_id: str) -> None:
        raise OSError("the store is unreachable")

    monkeypatch.setattr(store, "get_run", broken)
    try:
        with pytest.raises(OSError, match="unreachable"):
            await answer_gate(store, backend, "lg", "g1", GateAnswer(decision="accept"))  # pyright: ignore[reportArgumentType]
        record = await store.get_gate("lg", "g1")
    finally:
        await store.aclose()
    assert backend.resolved == []
    assert record is not None
    assert record.state == "open"
