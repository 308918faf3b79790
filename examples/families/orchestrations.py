"""Synapse orchestrations: the catalogue with its steps, and a research orchestration whose human step (a choice
and a free-text note) is answered in the host's form; the answer reaches the orchestration's shared state.

    python examples/families/orchestrations.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import Person, check, connect, key_profile, run

ANSWER = {"decision": "approve", "notes": "Publish it."}


async def main() -> None:
    person = Person([("accept", ANSWER)])
    async with connect("orchestrations", profile=key_profile(), person=person) as session:
        targets = await session.ok("targets_list")
        check("orch-research-report" in [t["id"] for t in targets["targets"]], "the research orchestration listed")
        described = await session.ok("targets_describe", {"target_id": "orch-research-report"})
        check(described["step_count"] == len(described["steps"]) > 1, "its steps described")
        report = await session.ok("runs_start", {"target_id": "orch-research-report", "message": "MCP servers"})
        check(len(person.questions) == 1, "the human step was put to the person once")
        fields = person.questions[0].requested_schema["properties"]  # type: ignore[union-attr]
        check({"decision", "notes"} <= set(fields), "the form has the step's choice and its note")
        check(report["status"] == "completed", "the orchestration completed")
        check(report["outputs"]["shared_state"]["human_response"] == ANSWER, "the answer reached the orchestration")
        check(report["usage"]["cost_usd"] > 0, "the run's cost is reported")


if __name__ == "__main__":
    run(main)
