"""The benchmarks at a tiny size: each runs end to end, produces its figures, and loses no event.

Speed targets live in the benchmarks (`python -m bench`), never in tests: nothing here asserts a timing.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from bench._support import Outcome

from bench import __main__ as runner
from bench import agents, coldstart, concurrency, gates, overhead, pipeline, store

pytestmark = [pytest.mark.slow, pytest.mark.no_cover]  # benchmarks: see tests/conftest.py


def _produced(outcome: Outcome) -> None:
    assert outcome.figures, f"{outcome.name} produced no figures"
    for figure in outcome.figures:
        assert figure.value == figure.value, f"{figure.name} is not a number"  # NaN never equals itself
        assert figure.absolute, f"{figure.name} has no absolute numbers beside it"
    assert outcome.accounted, f"{outcome.name} lost events: {outcome.details}"


def test_the_overhead_benchmark_measures_both_transports_against_the_bare_client() -> None:
    outcome = anyio.run(overhead.measure, 5, 2)
    _produced(outcome)
    assert {"bare", "memory", "stdio"} <= set(outcome.details)


def test_the_pipeline_benchmark_accounts_for_every_event_of_a_burst_and_a_steady_run() -> None:
    outcome = anyio.run(pipeline.measure, 300, 100, 500.0, 1)
    _produced(outcome)
    assert len(outcome.figures) == 4  # throughput and latency, in memory and over stdio


def test_the_concurrency_benchmark_sees_every_terminal_event() -> None:
    outcome = anyio.run(concurrency.measure, 4, 3, 50.0)
    _produced(outcome)
    assert outcome.details["complete"] == 4


def test_the_cold_start_benchmark_compares_runbridge_with_a_hello_world_server() -> None:
    _produced(coldstart.measure(1))  # each server started twice: once to warm the page cache, once timed


def test_the_gate_benchmark_times_both_families() -> None:
    outcome = anyio.run(gates.measure, 1)
    _produced(outcome)
    assert set(outcome.details) == {"orchagent", "openwop"}


def test_the_store_benchmark_times_every_call_and_another_client_at_each_size() -> None:
    outcome = anyio.run(store.measure, 3, (10, 30))
    _produced(outcome)
    assert set(outcome.details) == {"10", "30"}
    assert len(outcome.figures) == 2 * (len(store.CALLS) + 1)


def test_the_runner_writes_a_report_naming_the_machine_and_the_command(tmp_path: Path) -> None:
    """Through the quickest benchmark (agents): the report is the runner's, whichever benchmark it runs."""
    report, figures = tmp_path / "RESULTS.md", tmp_path / "results.json"
    code = runner.main(["--quick", "--only", "agents", "--output", str(report), "--json", str(figures)])
    assert code == 0
    text = report.read_text(encoding="utf-8")
    assert "| CPU |" in text
    assert "| Python |" in text
    assert "python -m bench --quick --only agents" in text
    before = ["--before", str(figures), "--before-label", "the same tree"]
    assert runner.main(["--quick", "--only", "agents", "--output", str(report), *before]) == 0
    assert "## Before and after" in report.read_text(encoding="utf-8")


def test_the_agent_call_benchmark_accounts_for_every_call_and_its_progress() -> None:
    outcome = anyio.run(agents.measure, 2, 3)
    _produced(outcome)
    assert outcome.details["events_per_call"] == 1 + 3 * 3 + 2
