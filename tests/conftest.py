"""Shared fixtures and hooks for every test directory."""

from __future__ import annotations

import json
import os
import ssl
from collections.abc import Iterator
from typing import Any

import httpcore2
import pytest
from mcp.client.session import ClientSession


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", autouse=True)
def _state_kept_in_the_test_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A runbridge started without a `state_path` (in this process or as a subprocess) keeps its state under this
    run's temporary folder, one per xdist worker: never in the developer's ~/.local/state, never shared by two
    workers at once."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("xdg-state")))
        yield


# Set by coverage's `patch = subprocess` (pyproject.toml): a Python process started with it in its environment measures
# itself.
_SUBPROCESS_COVERAGE = "COVERAGE_PROCESS_CONFIG"


@pytest.fixture(scope="module", autouse=True)
def _load_tests_unmeasured_module(request: pytest.FixtureRequest) -> Iterator[None]:
    """A module marked `no_cover` (pytest-cov's marker, for load, soak and benchmark tests: what they add is volume,
    not lines; every line they reach is reached by a test of the behaviour itself) starts its processes, its module
    fixtures' included, without coverage: measuring three replicas under 200 runs cost some 40 s of CPU, and the
    total stayed where it was without them (91.82% and 91.84% in two runs, 91.84% before).
    pytest-cov itself pauses the measure of the test process around each such test."""
    yield from _unmeasured_while(request.node)


@pytest.fixture(autouse=True)
def _load_tests_unmeasured(request: pytest.FixtureRequest) -> Iterator[None]:
    """As above, for one test marked `no_cover`: the processes it starts itself are not measured."""
    yield from _unmeasured_while(request.node)


def _unmeasured_while(node: pytest.Item | pytest.Collector) -> Iterator[None]:
    if node.get_closest_marker("no_cover") is None or _SUBPROCESS_COVERAGE not in os.environ:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(_SUBPROCESS_COVERAGE)
        yield


@pytest.fixture(scope="session", autouse=True)
def _output_schemas_compiled_once_per_process() -> Iterator[None]:
    """The official Python client compiles each tool's output schema, checking it against the JSON Schema
    meta-schema, once per session: some 30 ms of CPU for a run's schema, which each test's new session paid again.
    Here a schema is compiled once per test process and its validator (immutable) handed to every session that meets
    the same schema: each result is still validated by the client, and a schema the client refuses is refused every
    time (a failed compile is never kept). Should the client's method go, nothing is patched and the suite is only
    slower."""
    original = getattr(ClientSession, "_output_schema_validator", None)
    if original is None:
        yield
        return
    compiled: dict[str, Any] = {}

    def compiled_once(self: ClientSession, name: str, output_schema: dict[str, Any]) -> Any:
        key = json.dumps(output_schema, sort_keys=True)
        validator = compiled.get(key)
        if validator is None:
            validator = compiled[key] = original(self, name, output_schema)
        return validator

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ClientSession, "_output_schema_validator", compiled_once)
        yield


@pytest.fixture(scope="session", autouse=True)
def _trust_store_read_once_per_process() -> Iterator[None]:
    """Every HTTP client the tests make (theirs, the SDK's, the sandbox's) reads the system's trust store when it is
    made: some 50 ms of CPU each, hundreds of times, for loopback servers spoken to in plain HTTP. Here the default
    TLS context is made once per process for each `$SSL_CERT_FILE` / `$SSL_CERT_DIR` in force (a test that sets them
    gets a context of its own). runbridge's own clients share one anyway (`runbridge.http.tls`)."""
    original = httpcore2.default_ssl_context
    made: dict[tuple[bool, str | None, str | None], ssl.SSLContext] = {}

    def read_once(*, _trust_env: bool = True) -> ssl.SSLContext:
        key = (_trust_env, os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        context = made.get(key)
        if context is None:
            context = made[key] = original(_trust_env=_trust_env)
        return context

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpcore2, "default_ssl_context", read_once)
        yield


@pytest.hookimpl(trylast=True)  # after tests/real/conftest.py has marked its tests `real`
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A real-backend test's timeout bounds the test itself, not its fixtures: on a fresh machine the first test of
    a worker waits for the backends to install (minutes), and those installs and server starts are bounded by
    timeouts of their own (tests/real/real_backends.py)."""
    _slow_files_first(items)
    seconds = float(config.getini("timeout") or 0)
    for item in items:
        if item.get_closest_marker("real") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(seconds, func_only=True))


def _slow_files_first(items: list[pytest.Item]) -> None:
    """Files with a `slow` test (a soak, a flood, a balancer of replicas: tens of seconds each) run first, the rest
    in their usual order. Under `-n N --dist loadfile --no-loadscope-reorder` each worker then takes the long files
    while many short ones remain to even out the end, instead of one worker finishing a long file alone at the end.
    The order of tests within a file is kept."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # a stable sort: False (slow) first
