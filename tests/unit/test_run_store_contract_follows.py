"""The run store contract for follow leases (one process at a time follows a run in the background): claimed by
one of two processes at once, renewed by its holder only, taken over once it lapses (the taker learns whose it was),
given up; run against each store (tests/unit/conftest.py), so any other store must pass it too."""

from __future__ import annotations

from collections.abc import Callable

import anyio
import pytest

from runbridge.state import RunStore

OpenStore = Callable[..., RunStore]

P = "local"

pytestmark = pytest.mark.anyio


async def test_of_two_processes_claiming_at_once_one_follows_the_run(open_store: OpenStore) -> None:
    first, second = open_store(owner="host:1:a"), open_store(owner="host:2:b")
    results: dict[str, object] = {}

    async def claim(name: str, store: RunStore) -> None:
        results[name] = await store.claim_follow(P, "run_1", lease_seconds=30)

    for _ in range(5):  # several rounds: neither order may let both win
        await first.release_follow(P, "run_1")
        await second.release_follow(P, "run_1")
        results.clear()
        async with anyio.create_task_group() as tg:
            tg.start_soon(claim, "first", first)
            tg.start_soon(claim, "second", second)
        won = [name for name, lease in results.items() if lease is not None]
        assert len(won) == 1, results
    assert await first.claim_follow(P, "run_2", lease_seconds=30) is not None  # each run has a lease of its own


async def test_a_lease_is_renewed_by_its_holder_only_and_taken_over_once_it_lapses(open_store: OpenStore) -> None:
    first, second = open_store(owner="host:1:a"), open_store(owner="host:2:b")
    held = await first.claim_follow(P, "run_1", lease_seconds=1.0)
    assert held is not None
    assert held.taken_from is None
    renewed = await first.claim_follow(P, "run_1", lease_seconds=1.0)
    assert renewed is not None
    assert renewed.taken_from is None
    assert renewed.until >= held.until
    assert await second.claim_follow(P, "run_1", lease_seconds=30) is None
    await second.release_follow(P, "run_1")  # not its lease: nothing happens
    assert await second.claim_follow(P, "run_1", lease_seconds=30) is None
    await anyio.sleep(1.1)  # the holder stopped renewing (it died)
    taken = await second.claim_follow(P, "run_1", lease_seconds=30)
    assert taken is not None
    assert taken.taken_from == "host:1:a"
    again = await second.claim_follow(P, "run_1", lease_seconds=30)
    assert again is not None
    assert again.taken_from is None
    assert await first.claim_follow(P, "run_1", lease_seconds=30) is None  # the old holder does not get it back


async def test_a_released_lease_is_free_and_not_a_take_over(open_store: OpenStore) -> None:
    first, second = open_store(owner="host:1:a"), open_store(owner="host:2:b")
    assert await first.claim_follow(P, "run_1", lease_seconds=30) is not None
    await first.release_follow(P, "run_1")
    claimed = await second.claim_follow(P, "run_1", lease_seconds=30)
    assert claimed is not None
    assert claimed.taken_from is None


async def test_one_store_claims_and_releases(store: RunStore) -> None:
    lease = await store.claim_follow(P, "run_1", lease_seconds=30)
    assert lease is not None
    assert lease.taken_from is None
    await store.release_follow(P, "run_1")
    assert await store.claim_follow(P, "run_1", lease_seconds=30) is not None
