"""The LangGraph adapter's tests (tests/langgraph_cases.py) against the real LangGraph Agent Server."""

from __future__ import annotations

import pytest
from real_langgraph import LangGraphServer
from tests.langgraph_cases import *  # noqa: F403  (the shared tests, collected here)
from tests.langgraph_cases import LgHost


@pytest.fixture
def lg(langgraph_server: LangGraphServer) -> LgHost:
    return LgHost(langgraph_server.base_url, langgraph_server.key, langgraph_server.thread, langgraph_server.runs)
