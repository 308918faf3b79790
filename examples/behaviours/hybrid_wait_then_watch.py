"""The hybrid wait: `runs_start` follows a long run for `wait_seconds`, then returns a handle with a cursor while the
run goes on; `runs_watch` continues exactly where it stopped, so no event is lost or repeated.

    python examples/behaviours/hybrid_wait_then_watch.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import check, connect, key_profile, run


async def main() -> None:
    # long-demo has 55 steps; at speed 5 it takes about two seconds.
    async with connect(profile=key_profile() + 'workflows = ["long-demo"]\n', speed=5.0) as session:
        handle = await session.ok("runs_start", {"target_id": "long-demo", "wait_seconds": 0.3})
        check(handle["status"] == "running", "runs_start came back with the run still going")
        check(bool(handle.get("cursor")), "with a cursor to continue from")
        check("runs_watch" in str(handle["next"]), "and says to follow it with runs_watch")
        report = handle
        for _ in range(20):
            report = await session.ok("runs_watch", {"run_id": handle["run_id"], "cursor": report["cursor"]})
            if report["status"] != "running":
                break
        check(report["status"] == "completed", "runs_watch followed it to its end")
        events = await session.ok("runs_events", {"run_id": handle["run_id"], "limit": 500})
        seqs = [event["seq"] for event in events["events"]]
        check(len(seqs) == len(set(seqs)) >= 55, "every event is there once")


if __name__ == "__main__":
    run(main)
