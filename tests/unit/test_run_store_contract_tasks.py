"""The run store contract for tasks (an MCP task bound to a run): stored only with its run, moving forward only, paged
per owner, hidden once past its ttl, followed by one process at a time; run against each store
(tests/unit/conftest.py), so any other store must pass it too."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from runbridge.core.errors import CursorError, InputError
from runbridge.core.models import Run, RunStatus
from runbridge.state import RunStore, TaskRecord

OpenStore = Callable[..., RunStore]

P = "local"

pytestmark = pytest.mark.anyio


def _task(task_id: str = "t1", run_id: str = "run_1", *, owner: str | None = None, **extra: object) -> TaskRecord:
    now = extra.pop("created_at", None) or datetime.now(UTC)
    return TaskRecord(
        task_id=task_id,
        profile=P,
        run_id=run_id,
        tool="runs_start",
        status="working",
        created_at=now,  # type: ignore[arg-type]
        updated_at=now,  # type: ignore[arg-type]
        ttl_ms=extra.pop("ttl_ms", 3_600_000),  # type: ignore[arg-type]
        poll_ms=5000,
        owner=owner,
        **extra,  # type: ignore[arg-type]
    )


async def _with_run(store: RunStore, run_id: str = "run_1") -> None:
    await store.record_run(P, Run(run_id=run_id, target_id="wf", status=RunStatus.RUNNING))


async def test_a_task_is_stored_only_with_its_run_and_read_back_whole(store: RunStore) -> None:
    with pytest.raises(InputError, match="needs its run"):
        await store.record_task(_task())
    assert await store.get_task("t1") is None
    await _with_run(store)
    await store.record_task(_task(owner="alice", status_message="starting"))
    task = await store.get_task("t1")
    assert task is not None
    assert (task.profile, task.run_id, task.tool, task.status, task.owner) == (
        P,
        "run_1",
        "runs_start",
        "working",
        "alice",
    )
    assert (task.status_message, task.ttl_ms, task.poll_ms, task.ended) == ("starting", 3_600_000, 5000, False)
    assert await store.get_task("nope") is None


async def test_a_task_moves_forward_and_never_changes_once_ended(store: RunStore) -> None:
    await _with_run(store)
    await store.record_task(_task())
    waiting = await store.update_task("t1", status="input_required", gate_id="g1", status_message="Approve?")
    assert waiting is not None
    assert (waiting.status, waiting.gate_id, waiting.status_message) == ("input_required", "g1", "Approve?")
    working = await store.update_task("t1", status="working", status_message="step 3/5")
    assert working is not None
    assert (working.status, working.gate_id, working.status_message) == ("working", None, "step 3/5")
    result = {"content": [{"type": "text", "text": "done"}], "isError": False}
    done = await store.update_task("t1", status="completed", result=result)
    assert done is not None
    assert (done.status, done.result, done.ended) == ("completed", result, True)
    after = await store.update_task("t1", status="cancelled", status_message="too late", error={"code": 1})
    assert after is not None
    assert (after.status, after.result, after.error, after.status_message) == ("completed", result, None, "step 3/5")
    assert await store.update_task("unknown", status="failed") is None


async def test_tasks_are_listed_per_owner_newest_first_in_pages(store: RunStore) -> None:
    await _with_run(store)
    start = datetime.now(UTC)
    for i in range(5):
        await store.record_task(_task(f"t{i}", owner="alice", created_at=start + timedelta(seconds=i)))
    await store.record_task(_task("bob1", owner="bob"))
    await store.record_task(_task("anon", owner=None))
    first = await store.list_tasks("alice", limit=2)
    second = await store.list_tasks("alice", limit=2, cursor=first.next_cursor)
    third = await store.list_tasks("alice", limit=2, cursor=second.next_cursor)
    assert [[t.task_id for t in p.items] for p in (first, second, third)] == [["t4", "t3"], ["t2", "t1"], ["t0"]]
    assert third.next_cursor is None
    assert [t.task_id for t in (await store.list_tasks("bob")).items] == ["bob1"]
    assert [t.task_id for t in (await store.list_tasks(None)).items] == ["anon"]
    with pytest.raises(CursorError):
        await store.list_tasks("alice", cursor="not-a-cursor")


async def test_a_task_past_its_ttl_is_gone_from_every_read(store: RunStore) -> None:
    await _with_run(store)
    await store.record_task(_task("short", ttl_ms=50))
    await store.record_task(_task("forever", ttl_ms=None))
    assert await store.get_task("short") is not None
    await anyio.sleep(0.1)
    assert await store.get_task("short") is None
    assert [t.task_id for t in (await store.list_tasks(None)).items] == ["forever"]
    forever = await store.get_task("forever")
    assert forever is not None
    assert forever.ttl_ms is None


async def test_the_open_tasks_of_a_run_are_found_from_the_run(store: RunStore) -> None:
    await _with_run(store)
    await _with_run(store, "run_2")
    await store.record_task(_task("a"))
    await store.record_task(_task("b"))
    await store.record_task(_task("c", run_id="run_2"))
    await store.update_task("b", status="completed", result={"content": []})
    assert [t.task_id for t in await store.tasks_of_run(P, "run_1")] == ["a"]
    assert await store.tasks_of_run("other", "run_1") == []


async def test_one_process_follows_a_task_until_its_lease_lapses(open_store: OpenStore) -> None:
    first = open_store(owner="host:1:a")
    second = open_store(owner="host:2:b")  # another process on the same data (opened first: opening takes time)
    await _with_run(first)
    await first.record_task(_task())
    assert await first.claim_task("t1", lease_seconds=1.0)
    assert await first.claim_task("t1", lease_seconds=1.0)  # its own lease, renewed
    assert not await second.claim_task("t1", lease_seconds=30)
    await anyio.sleep(1.1)
    assert await second.claim_task("t1", lease_seconds=30)
    task = await second.get_task("t1")
    assert task is not None
    assert task.runner == "host:2:b"
    await second.update_task("t1", status="cancelled")
    assert not await second.claim_task("t1", lease_seconds=30)  # an ended task is followed by nobody


async def test_a_state_file_from_before_tasks_gains_the_table(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    from runbridge.state import SqliteStore

    path = Path(str(tmp_path)) / "old.db"
    old = SqliteStore(path)
    old.close()
    db = sqlite3.connect(path)
    db.execute("DROP TABLE tasks")
    db.commit()
    db.close()
    store = SqliteStore(path)
    try:
        await store.record_run(P, Run(run_id="run_1", status=RunStatus.RUNNING))
        await store.record_task(_task())
        assert await store.get_task("t1") is not None
    finally:
        await store.aclose()
