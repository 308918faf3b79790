"""The LangGraph adapter's tests (tests/langgraph_cases.py) against runbridge's LangGraph sandbox: the same tests
tests/real/test_langgraph_adapter_real.py runs against the real Agent Server, so the sandbox is held to the server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from tests.langgraph_cases import *  # noqa: F403  (the shared tests, collected here)
from tests.langgraph_cases import LgHost

from runbridge.sandbox import SandboxServer


@pytest.fixture(scope="module")
def _sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("langgraph") as server:
        yield server


@pytest.fixture
def lg(_sandbox: SandboxServer) -> LgHost:
    def get(path: str) -> Any:
        request = urllib.request.Request(_sandbox.base_url + path, headers={"x-api-key": _sandbox.api_key})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback URL)
            return json.loads(response.read())

    return LgHost(
        _sandbox.base_url,
        _sandbox.api_key,
        lambda thread_id: get(f"/threads/{thread_id}"),
        lambda thread_id: get(f"/threads/{thread_id}/runs"),
    )
