"""The real-backend tier: servers written by others (the OpenWOP reference hosts, Synapse), started on loopback
for the session, and runbridge driven against them over stdio by the official MCP client.

Every test here is marked `real` (`pytest -m "not real"` leaves them out). A backend that cannot be installed or
started skips its tests with one line saying why, except where it is required (`RUNBRIDGE_REAL_REQUIRED=1`, or `CI`
set), where it fails them."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import real_backends
import real_langgraph
import real_synapse
from real_backends import HostProcess, Unavailable

T = TypeVar("T")

HERE = Path(__file__).parent


HOST_FIXTURES = {"openwop_sqlite", "openwop_python", "openwop_inmemory"}
_left_out: list[str] = []  # the one line said at the end when the OpenWOP hosts are not here


def _needs_openwop_hosts(item: pytest.Item) -> bool:
    """A test that runs an OpenWOP reference host: through a session host fixture, or (modules that start hosts of
    their own or pick one by name) by saying `NEEDS_OPENWOP_HOSTS = True`."""
    module = getattr(item, "module", None)
    return bool(HOST_FIXTURES & set(getattr(item, "fixturenames", ()))) or getattr(module, "NEEDS_OPENWOP_HOSTS", False)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    mine = [item for item in items if HERE in Path(str(item.fspath)).parents]
    for item in mine:
        item.add_marker(pytest.mark.real)
    try:
        real_backends.openwop_source()
    except Unavailable as exc:
        if real_backends.REQUIRED:
            return  # each such test fails, saying why
        without = [item for item in mine if _needs_openwop_hosts(item)]
        if without:
            config.hook.pytest_deselected(items=without)
            items[:] = [item for item in items if item not in without]
            _left_out.append(f"real tier: {len(without)} tests left out: {exc}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for line in _left_out:
        terminalreporter.write_line(line)


def available(make: Callable[[], T]) -> T:
    """`make()`, or, when the backend is unavailable here, a skip (locally) or a failure (where it is required)."""
    try:
        return make()
    except Unavailable as exc:
        if real_backends.REQUIRED:
            pytest.fail(f"real backend unavailable: {exc}", pytrace=False)
        pytest.skip(f"real backend unavailable: {exc}")


@pytest.fixture(scope="session")
def real_key() -> str:
    return "rk-" + secrets.token_hex(12)


def _host(kind: str, tmp_path_factory: pytest.TempPathFactory, key: str) -> Iterator[HostProcess]:
    workdir = tmp_path_factory.mktemp(f"openwop-{kind}")
    host = available(lambda: real_backends.openwop_host(kind, workdir, key).start())
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="session")
def openwop_sqlite(tmp_path_factory: pytest.TempPathFactory, real_key: str) -> Iterator[HostProcess]:
    """The OpenWOP SQLite reference host: durable runs, every interrupt kind, survives a restart."""
    yield from _host("sqlite", tmp_path_factory, real_key)


@pytest.fixture(scope="session")
def openwop_python(tmp_path_factory: pytest.TempPathFactory, real_key: str) -> Iterator[HostProcess]:
    """The OpenWOP Python reference host: run-level pause and resume, no interrupts."""
    yield from _host("python", tmp_path_factory, real_key)


@pytest.fixture(scope="session")
def openwop_inmemory(tmp_path_factory: pytest.TempPathFactory, real_key: str) -> Iterator[HostProcess]:
    """The OpenWOP in-memory reference host: no workflow-describe route, `core.noop`/`core.delay` only."""
    yield from _host("in-memory", tmp_path_factory, real_key)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[real_synapse.SynapseHost]:
    """Synapse 1.9.2 with an API key and the orchestrations of `real_synapse.ORCHESTRATIONS` (human steps, a plain
    run, a raising transform); `.run(run_id)` reads a run as the server records it."""
    workdir = tmp_path_factory.mktemp("synapse")
    host = available(lambda: real_synapse.SynapseHost(workdir).start())
    try:
        yield host
    finally:
        host.stop()


@pytest.fixture(scope="session")
def langgraph_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[real_langgraph.LangGraphServer]:
    """The LangGraph Agent Server (`langgraph dev`, in memory) serving the graphs of `langgraph_project/`, once per
    worker; `.key` is the key its auth accepts, `.thread(id)` and `.runs(id)` its own word on a thread."""
    server = real_langgraph.LangGraphServer(tmp_path_factory.mktemp("langgraph"))
    available(server.start)
    try:
        yield server
    finally:
        server.stop()
