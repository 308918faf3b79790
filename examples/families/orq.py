"""orq.ai agents: an agent task stops to ask the caller to run a client-side tool (`get_weather`); runbridge puts
the call to the person as a form, sends their result back on the same task, and follows the continuation as the
same run to the agent's answer.

    python examples/families/orq.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import Person, check, connect, key_profile, run


async def main() -> None:
    person = Person([("accept", {"result": "sunny, 21 C"})])  # what the person's own tool said
    async with connect("orq", profile=key_profile(), person=person) as session:
        report = await session.ok("agents_call", {"agent_id": "weather-agent", "message": "Lisbon"})
        (question,) = person.questions
        check("get_weather" in question.message, "the person was asked to run get_weather")
        check(question.requested_schema["required"] == ["result"], "as a form asking for its result")  # type: ignore[union-attr]
        check(report["status"] == "completed", "the same call carried the task to its end")
        check(report["outputs"]["text"] == "The tool said: sunny, 21 C", "the agent answered with the tool's result")
        events = await session.ok("runs_events", {"run_id": report["run_id"], "limit": 100})
        kinds = [e["kind"] for e in events["events"]]
        check("gate.resolved" in kinds and "run.resumed" in kinds, "the continuation was read into the same run")
        check(kinds.count("run.completed") == 1, "one run, completed once")


if __name__ == "__main__":
    run(main)
