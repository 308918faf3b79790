"""orchagent.io platform (hosted agents): find an agent in the public catalogue, call it with live progress (a
managed-loop agent: each turn a step, each tool call a progress line), and read the call back in the platform's own
usage log.

    python examples/families/platform.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import check, connect, key_profile, run


async def main() -> None:
    progress: list[str] = []

    async def on_progress(_done: float, _total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with connect("platform", profile=key_profile(), speed=20.0) as session:  # a loop turn takes ~20 ms
        found = await session.ok("agents_list", {"search": "audit"})
        check([a["id"] for a in found["agents"]] == ["acme/repo-auditor"], "the catalogue search found the auditor")
        agent = found["agents"][0]
        report = await session.ok(
            "agents_call", {"agent_id": agent["id"], "input": {"repo": "acme/api"}}, progress_callback=on_progress
        )
        check(report["status"] == "completed", "the agent call completed")
        check(report["outputs"]["summary"] == "Audited acme/api", "with the agent's output")
        check(any("turn 2" in m for m in progress), "progress showed the agent's turns")
        check(any("calling bash" in m for m in progress), "and its tool calls")
        usage = await session.ok("usage_report", {"view": "logs", "limit": 5})
        newest = usage["platform"]["rows"][0]
        check(newest["id"] == report["run_id"], "the platform's usage log shows the call first")
        check(newest["total_tokens"] == report["usage"]["total_tokens"], "with the tokens the call reported")


if __name__ == "__main__":
    run(main)
