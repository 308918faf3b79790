"""The fallback for a host without elicitation: the call returns the question (`waiting_for`, with how to put it
to the user and `next`, the tool to call), and `gates_respond` with the user's answer continues the run.

    python examples/behaviours/gate_without_elicitation.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import check, connect, key_profile, run


async def main() -> None:
    async with connect(profile=key_profile() + 'workflows = ["approval-demo"]\n', person=None) as session:
        first = await session.ok("runs_start", {"target_id": "approval-demo"})
        check(first["status"] == "waiting", "the run waits at its gate")
        gate = first["waiting_for"]
        check("Approve the launch announcement" in gate["prompt"], "the result carries the gate's question")
        check(bool(gate["how_to_answer"]), "and how to put it to the user")
        check("gates_respond" in str(first["next"]), "and says which tool answers it")
        listed = await session.ok("gates_list")
        check([g["gate_id"] for g in listed["gates"]] == [gate["gate_id"]], "gates_list shows the open gate")
        answered = await session.ok(
            "gates_respond", {"gate_id": gate["gate_id"], "decision": "accept", "values": {"decision": "accept"}}
        )
        check(answered["status"] == "completed", "the user's answer continued the run to its end")
        check((await session.ok("gates_list"))["gates"] == [], "no gate is left open")


if __name__ == "__main__":
    run(main)
