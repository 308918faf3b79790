"""The Redis run store benchmark at a tiny size: it starts its redis-server, fills it, and times every call and
another client at each size. Nothing here asserts a timing."""

from __future__ import annotations

import anyio
import pytest

from bench import store, store_redis
from redis_server import redis_server_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.no_cover]  # benchmarks: see tests/conftest.py


def test_the_redis_store_benchmark_times_every_call_and_another_client_at_each_size() -> None:
    redis_server_or_skip()
    outcome = anyio.run(store_redis.measure, 3, (10, 30))
    assert set(outcome.details) == {"10", "30"}
    assert len(outcome.figures) == 2 * (len(store.CALLS) + 1)
    for figure in outcome.figures:
        assert figure.value == figure.value, f"{figure.name} is not a number"  # NaN never equals itself
        assert figure.absolute
