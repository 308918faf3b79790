"""LangGraph Agent Server: a run of the `review` graph drafts a note, then stops at an `interrupt()` asking whether
to publish it; runbridge puts the question to the person as a choice, resumes the thread with their answer, and
shows the first run and its resume as one run, to the graph's end.

    python examples/families/langgraph.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import Person, check, connect, key_profile, run


async def main() -> None:
    person = Person([("accept", {"choice": "approve"})])
    progress: list[str] = []

    async def on_progress(_done: float, _total: float | None, message: str | None) -> None:
        progress.append(message or "")

    async with connect("langgraph", profile=key_profile(), person=person) as session:
        report = await session.ok(
            "runs_start", {"target_id": "review", "inputs": {"topic": "wrens"}}, progress_callback=on_progress
        )
        (question,) = person.questions
        check(question.message.startswith("Publish this draft?"), "the interrupt's question reached the person")
        choice = question.requested_schema["properties"]["choice"]  # type: ignore[union-attr]
        check("approve" in str(choice), "as a choice among its options")
        check(any("Draft ready" in m for m in progress), "progress showed the draft the graph wrote")
        check(report["status"] == "completed", "the same call resumed the graph and carried it to its end")
        check(report["outputs"]["published"] is True, "the draft was published, as the person chose")
        events = await session.ok("runs_events", {"run_id": report["run_id"], "limit": 200})
        kinds = [e["kind"] for e in events["events"]]
        check("gate.opened" in kinds and "run.resumed" in kinds, "the interrupt and the resume are in the one run")


if __name__ == "__main__":
    run(main)
