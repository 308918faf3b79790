"""A human gate answered in the host's own UI: the run waits for an approval, runbridge asks the person through
MCP elicitation (a live form, mid-call), and the same call continues the run to its end, with progress on the way.

    python examples/behaviours/gate_by_elicitation.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import Person, check, connect, key_profile, run


async def main() -> None:
    person = Person([("accept", {"decision": "accept"})])
    progress: list[str] = []

    async def on_progress(_done: float, _total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with connect(profile=key_profile() + 'workflows = ["approval-demo"]\n', person=person) as session:
        report = await session.ok("runs_start", {"target_id": "approval-demo"}, progress_callback=on_progress)
    (question,) = person.questions
    check("Approve the launch announcement" in question.message, "the gate's question reached the person")
    check("decision" in question.requested_schema["properties"], "as a form with the decision")  # type: ignore[union-attr]
    check(report["status"] == "completed", "the same call carried the run to its end")
    check(report.get("decision") == "accepted", "with the person's approval")
    check(any("waiting for a human" in m for m in progress), "progress said the run waited for a human")


if __name__ == "__main__":
    run(main)
