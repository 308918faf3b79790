"""The replicas benchmark at a tiny size: it starts Redis, HAProxy and 1 then 3 replicas, and counts calls through
them. Nothing here asserts a timing."""

from __future__ import annotations

import shutil

import anyio
import pytest

from bench import replicas
from redis_server import redis_server_or_skip

pytestmark = [pytest.mark.slow, pytest.mark.no_cover]  # benchmarks: see tests/conftest.py


def test_the_replicas_benchmark_counts_calls_through_one_and_three_replicas_with_none_failed() -> None:
    redis_server_or_skip()
    if shutil.which("haproxy") is None:
        pytest.skip("haproxy is not installed (apt-get install haproxy)")
    outcome = anyio.run(replicas.measure, 2, 1.0)
    assert set(outcome.details) == {"1 replica(s)", "3 replica(s)"}
    assert outcome.accounted, outcome.details
    for details in outcome.details.values():
        assert details["calls"] > 0
        assert details["failed"] == 0
    assert outcome.figures[-1].ratio.endswith("x one replica")
