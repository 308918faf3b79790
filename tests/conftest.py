"""Shared fixtures and hooks for every test directory."""

from __future__ import annotations

from collections.abc import Iterator

import pytest


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


@pytest.hookimpl(trylast=True)  # after tests/real/conftest.py has marked its tests `real`
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A real-backend test's timeout bounds the test itself, not its fixtures: on a fresh machine the first test of
    a worker waits for the backends to install (minutes), and those installs and server starts are bounded by
    timeouts of their own (tests/real/real_backends.py)."""
    seconds = float(config.getini("timeout") or 0)
    for item in items:
        if item.get_closest_marker("real") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(seconds, func_only=True))
