"""orchagent (self-hosted threads/runs): a thread on a calendar workflow asks the person to sign in (a link) and to
approve the tool it wants to call, then replies.

    python examples/families/orchagent.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import Person, check, connect, run


async def main() -> None:
    person = Person([("accept", None), ("accept", {"decision": "approve"})])  # signed in; the tool approved
    async with connect("orchagent", profile='token_file = "token.json"\n', person=person) as session:
        thread = await session.ok("threads_create", {"spec": {"workflow": "calendar-hil-chat"}})
        asked = await session.ok(
            "threads_ask", {"thread_id": thread["thread_id"], "user_prompt": "Book a sync with Ana on Tuesday"}
        )
        check(len(person.questions) == 2, "the person was asked to sign in, then to approve the tool")
        sign_in, approval = person.questions
        check(getattr(sign_in, "url", "").startswith(session.sandbox.base_url), "the sign-in came as a link")
        check("decision" in approval.requested_schema["properties"], "the tool approval came as a form")  # type: ignore[union-attr]
        check(asked["done"] is True, "the thread's run finished")
        check("booked" in asked["reply"], "the assistant replied that the meeting is booked")
        history = await session.ok("threads_history", {"thread_id": thread["thread_id"]})
        check([item["role"] for item in history["items"]] == ["user", "assistant"], "the thread holds both turns")


if __name__ == "__main__":
    run(main)
