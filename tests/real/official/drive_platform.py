"""Drives an orchagent.io gateway with its official SDK, `orchagent-sdk` 0.1.13 (`AgentClient.call`: the calls one
agent makes to another), and prints what the SDK read as one JSON document. Run by
tests/real/test_official_platform.py with the SDK's own virtual environment; never imported by the suite.

Usage: `python drive_platform.py '<plan JSON>'`, the plan being `{"base_url": ..., "key": ..., "calls": [{"name":
..., "agent": "org/agent@version", "input": {...}, "endpoint"?: ..., "call_chain"?: [...], "max_hops"?: n,
"key"?: ...}]}`. Each call's result is under its name: `{"result": <what call() returned>}`, or, when the SDK
raised, `{"raised": <exception class>, "status": <HTTP status>, "body": <the error body the SDK kept>}`.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import anyio
from orchagent import AgentClient, AgentClientError, DependencyCallError


async def one(base_url: str, key: str, call: dict[str, Any]) -> dict[str, Any]:
    client = AgentClient(
        service_key=call.get("key", key),
        gateway_url=base_url,
        call_chain=call.get("call_chain"),
        max_hops=call.get("max_hops"),
    )
    try:
        result = await client.call(call["agent"], call.get("input", {}), endpoint=call.get("endpoint"), timeout=30)
    except DependencyCallError as exc:
        return {"raised": type(exc).__name__, "status": exc.status_code, "body": exc.response_body}
    except AgentClientError as exc:
        return {"raised": type(exc).__name__, "message": str(exc)[:300]}
    return {"result": result}


async def main(plan: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for call in plan["calls"]:
        out[call["name"]] = await one(plan["base_url"], plan["key"], call)
    return out


if __name__ == "__main__":
    print(json.dumps(anyio.run(main, json.loads(sys.argv[1]))))
