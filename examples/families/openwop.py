"""OpenWOP: list the workflows a profile offers, run one through its approval gate (answered by the person in
the host's form), and read the finished run back.

    python examples/families/openwop.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import Person, check, connect, key_profile, run

PROFILE = key_profile() + 'workflows = ["approval-demo", "quick-demo"]\n'


async def main() -> None:
    person = Person([("accept", {"decision": "accept"})])
    async with connect("openwop", profile=PROFILE, person=person) as session:
        targets = await session.ok("targets_list")
        check([t["id"] for t in targets["targets"]] == ["approval-demo", "quick-demo"], "the two workflows listed")
        report = await session.ok("runs_start", {"target_id": "approval-demo"})
        check(len(person.questions) == 1, "the approval was put to the person once")
        check(report["status"] == "completed", "the run completed after the approval")
        check(report.get("decision") == "accepted", "the decision was an approval")
        read = await session.ok("runs_get", {"run_id": report["run_id"]})
        check(read["run"]["status"] == "completed", "runs_get reads the finished run")


if __name__ == "__main__":
    run(main)
