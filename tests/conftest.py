"""Shared fixtures and hooks for every test directory."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.hookimpl(trylast=True)  # after tests/real/conftest.py has marked its tests `real`
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A real-backend test's timeout bounds the test itself, not its fixtures: on a fresh machine the first test of
    a worker waits for the backends to install (minutes), and those installs and server starts are bounded by
    timeouts of their own (tests/real/real_backends.py)."""
    seconds = float(config.getini("timeout") or 0)
    for item in items:
        if item.get_closest_marker("real") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(seconds, func_only=True))
