"""A run as an MCP task (the 2026 `io.modelcontextprotocol/tasks` extension): `runs_start` answers at once with a
task bound to the run, the host polls `tasks/get` (the run's current step as the task's status message), asks the
person when the task is `input_required` at the run's gate and gives the answer with `tasks/update`, then polls on
to the tool's result. The official Python client has no task support of its own; `_tasks.py` adds it as a client
extension.

    python examples/behaviours/task.py
"""

import sys
from pathlib import Path

sys.path.pop(0)  # this folder (see _harness.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _harness import check, connect, key_profile, run
from _tasks import TaskExtension, TaskState, until, update


async def main() -> None:
    tasks = TaskExtension(poll=False)  # the task comes back to this program, which drives it
    shown: list[tuple[str, str]] = []

    def show(state: TaskState) -> None:
        now = (state.status, (state.status_message or "").split("\n")[0])
        if not shown or shown[-1] != now:
            shown.append(now)
            print(f"  tasks/get: {now[0]}" + (f" ({now[1]})" if now[1] else ""))

    # approval-demo plans, researches and drafts (about two seconds at speed 2), then waits for an approval.
    profile = key_profile() + 'workflows = ["approval-demo"]\n'
    async with connect(profile=profile, mode="auto", extensions=[tasks], speed=2.0) as session:
        await session.client.call_tool("runs_start", {"target_id": "approval-demo"})
        check(len(tasks.created) == 1, "runs_start answered with a task")
        created = tasks.created[0]
        print(f"  task {created.task_id}: {created.status}")
        check(created.status == "working", "at once, while the run goes on")

        waiting = await until(session.client.session, created.task_id, "input_required", "completed", on_state=show)
        check(any(status == "working" and message for status, message in shown), "polling showed the run's steps")
        check(waiting.status == "input_required", "the task came to input_required at the run's gate")
        check(waiting.input_requests is not None and len(waiting.input_requests) == 1, "with one input request")
        [(key, request)] = (waiting.input_requests or {}).items()
        question = request["params"]["message"]
        print(f"  the person is asked: {question.splitlines()[0]}")
        check(request["method"] == "elicitation/create", "an elicitation form")
        check("Approve the launch announcement" in question, "asking the gate's question")
        check("decision" in request["params"]["requestedSchema"]["properties"], "with the decision to give")

        answer = {"action": "accept", "content": {"decision": "accept"}}
        await update(session.client.session, created.task_id, {key: answer})
        print("  tasks/update: the person accepts")
        done = await until(session.client.session, created.task_id, "completed", "failed", "cancelled", on_state=show)

    check(done.status == "completed", "polling went on to the task's end")
    check(done.result is not None, "tasks/get gave the tool's result")
    result = (done.result or {}).get("structuredContent") or {}
    print(f"  the tool's result: {result.get('status')}, {result.get('decision')}, outputs {result.get('outputs')}")
    check(result.get("status") == "completed", "the run ended")
    check(result.get("decision") == "accepted", "with the person's approval")
    check((result.get("outputs") or {}).get("result") == "Announcement published.", "and the workflow's output")


if __name__ == "__main__":
    run(main)
