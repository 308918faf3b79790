"""The LangGraph adapter's tests (tests/langgraph_cases.py) against runbridge's LangGraph sandbox: the same tests
tests/real/test_langgraph_adapter_real.py runs against the real Agent Server, so the sandbox is held to the server."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from tests.langgraph_cases import *  # noqa: F403  (the shared tests, collected here)
from tests.langgraph_cases import LgHost, adapter

from runbridge.sandbox import SandboxServer


@pytest.fixture(scope="module")
def _sandbox() -> Iterator[SandboxServer]:
    with SandboxServer("langgraph") as server:
        yield server


@pytest.fixture
def sandbox(_sandbox: SandboxServer) -> SandboxServer:
    return _sandbox


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


@pytest.mark.anyio
@pytest.mark.parametrize(("auth", "header"), [("bearer", "key_as_bearer"), ("x-api-key", "key_as_x_api_key")])
async def test_the_key_goes_in_the_header_the_profiles_auth_option_names(
    auth: str, header: str, sandbox: SandboxServer, lg: LgHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The adapter, configured by the profile alone, sends its key in the header `auth` names, and only there."""
    before = sandbox.stats()
    async with adapter(lg, monkeypatch, auth=auth) as backend:
        page = await backend.list_targets()
    after = sandbox.stats()
    assert len(page.items) == 4
    other = "key_as_x_api_key" if header == "key_as_bearer" else "key_as_bearer"
    assert after.get(header, 0) > before.get(header, 0)
    assert after.get(other, 0) == before.get(other, 0)
