"""Usage and cost: after a few runs, `usage_report` sums the tokens and cost their backend reported, broken down
by target, and `runs_get` shows each run's own.

    python examples/behaviours/usage_report.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import check, connect, key_profile, run


async def main() -> None:
    async with connect(profile=key_profile() + 'workflows = ["quick-demo"]\n') as session:
        runs = [await session.ok("runs_start", {"target_id": "quick-demo"}) for _ in range(2)]
        check(all(r["status"] == "completed" for r in runs), "two runs completed")
        tokens = sum(r["usage"]["total_tokens"] for r in runs)
        check(tokens > 0, "each run reported its tokens")
        report = await session.ok("usage_report", {"days": 1, "group_by": "target"})
        check(report["total"]["runs"] == 2, "the report counts both runs")
        check(report["total"]["total_tokens"] == tokens, "and sums their tokens")
        check([g["key"] for g in report["groups"]] == ["quick-demo"], "broken down by target")
        read = await session.ok("runs_get", {"run_id": runs[0]["run_id"]})
        check(read["run"]["usage"]["total_tokens"] == runs[0]["usage"]["total_tokens"], "runs_get shows a run's own")


if __name__ == "__main__":
    run(main)
