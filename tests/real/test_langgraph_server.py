"""The LangGraph Agent Server fixture itself: it serves the test graphs on the port its log names, lets in only the
key it was given (as `x-api-key` or bearer), and its review graph stops at the interrupt with the options."""

from __future__ import annotations

import urllib.error
import urllib.request

import pytest
from real_langgraph import LangGraphServer


def test_the_server_serves_the_test_graphs_behind_its_key(langgraph_server: LangGraphServer) -> None:
    graphs = {a["graph_id"] for a in langgraph_server.call("POST", "/assistants/search", {})}
    assert graphs == {"review", "form", "pair", "ticker"}
    request = urllib.request.Request(  # noqa: S310 (loopback URL)
        langgraph_server.base_url + "/assistants/search", data=b"{}", method="POST"
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    refused.value.close()
    assert refused.value.code == 401
    thread = langgraph_server.call("POST", "/threads", {})["thread_id"]
    run = langgraph_server.call("POST", f"/threads/{thread}/runs/wait", {"assistant_id": "review", "input": {}})
    assert run["__interrupt__"][0]["value"]["options"] == ["approve", "reject", "rework"]
    assert langgraph_server.thread(thread)["status"] == "interrupted"
