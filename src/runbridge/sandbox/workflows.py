"""The example workflows every sandbox serves; add one by adding an entry to `EXAMPLE_WORKFLOWS`.

Delays are seconds at speed 1 (the demo); tests run at speed 0, where every delay is skipped.
"""

from __future__ import annotations

from dataclasses import replace

from .chat_workflows import CHAT_WORKFLOWS
from .model import GateField, GateSpec, Question, Step, StepUsage, Workflow

__all__ = ["EXAMPLE_WORKFLOWS"]

_APPROVAL_DEMO = Workflow(
    id="approval-demo",
    name="Launch announcement",
    description="Researches a topic, drafts an announcement, waits for a human approval, then publishes it.",
    result="Announcement published.",
    steps=(
        Step("plan", "Plan", delay=0.6, usage=StepUsage(300, 120, 0.0009)),
        Step(
            "research",
            "Research",
            kind="tool",
            delay=1.2,
            tool="web_search",
            tool_args={"query": "product launch best practices"},
            tool_result={"hits": 3, "top": "Keep it short and concrete."},
            usage=StepUsage(1200, 350, 0.0041),
        ),
        Step("draft", "Draft", delay=1.5, usage=StepUsage(2400, 900, 0.0093), output="A 420-word draft."),
        Step(
            "approve",
            "Approve",
            kind="gate",
            gate=GateSpec(
                kind="approval",
                prompt="Approve the launch announcement draft?",
                title="Approve the launch announcement",
                description="The draft below will be published as is.",
                actions=("accept", "reject", "refine"),
                artifact_type="document",
                artifact={"artifactId": "art_draft", "words": 420, "headline": "Meet Runbridge 1.0"},
            ),
        ),
        Step(
            "publish",
            "Publish",
            kind="tool",
            delay=0.8,
            tool="publish_post",
            tool_args={"channel": "blog"},
            tool_result={"url": "https://example.invalid/blog/launch"},
            usage=StepUsage(200, 60, 0.0006),
        ),
    ),
)

_CLARIFY_DEMO = Workflow(
    id="clarify-demo",
    name="Briefing with questions",
    description="Asks two clarifying questions before writing a brief.",
    result="Brief written.",
    steps=(
        Step("intake", "Intake", delay=0.6, usage=StepUsage(400, 100, 0.0011)),
        Step(
            "clarify",
            "Clarify",
            kind="gate",
            gate=GateSpec(
                kind="clarification",
                prompt="Two questions before writing the brief.",
                questions=(
                    Question("audience", "Who is the audience?"),
                    Question("tone", "Which tone should the brief use?"),
                ),
            ),
        ),
        Step("write", "Write", delay=1.2, usage=StepUsage(1800, 700, 0.0071)),
    ),
)

_FAILING_DEMO = Workflow(
    id="failing-demo",
    name="Flaky import",
    description="Fails at its second step, the way an upstream outage would.",
    steps=(
        Step("prepare", "Prepare", delay=0.5, usage=StepUsage(250, 80, 0.0007)),
        Step(
            "fetch",
            "Fetch dataset",
            kind="fail",
            delay=0.8,
            error_code="node_execution_failed",
            error_message="Fetching the dataset failed: the upstream API answered 503 three times.",
        ),
        Step("report", "Report", delay=0.5),
    ),
)

_LONG_DEMO = Workflow(
    id="long-demo",
    name="Long batch",
    description="55 small steps with usage and no gates: for progress and pagination.",
    result="All 55 items processed.",
    steps=tuple(Step(f"step-{i:02d}", f"Item {i}", delay=0.2, usage=StepUsage(50, 20, 0.0001)) for i in range(1, 56)),
)

_QUICK_DEMO = Workflow(
    id="quick-demo",
    name="Quick sum",
    description="Three steps, no gate: the smallest complete run.",
    result="The answer is 42.",
    steps=(
        Step("greet", "Greet", delay=0.3),
        Step(
            "compute",
            "Compute",
            kind="tool",
            delay=0.5,
            tool="calculator",
            tool_args={"expression": "40 + 2"},
            tool_result={"value": 42},
            usage=StepUsage(150, 30, 0.0004),
        ),
        Step("finish", "Finish", delay=0.3, output="42"),
    ),
)

_EXTERNAL_DEMO = Workflow(
    id="external-demo",
    name="Wait for payment",
    description="Waits for an external event (a payment) before shipping.",
    result="Order shipped.",
    steps=(
        Step("prepare", "Prepare order", delay=0.5),
        Step(
            "payment",
            "Wait for payment",
            kind="gate",
            gate=GateSpec(
                kind="external",
                prompt="Waiting for the payment provider to confirm the payment.",
                event_type="payment.settled",
                correlation={"orderId": "order-42"},
            ),
        ),
        Step("ship", "Ship", delay=0.6, tool="ship_order", tool_args={"orderId": "order-42"}, tool_result="ok"),
    ),
)

_INPUT_DEMO = Workflow(
    id="input-demo",
    name="Ticket triage",
    description="Asks a human to fill a small form (a generic input gate) before filing a ticket.",
    result="Ticket filed.",
    steps=(
        Step("read", "Read ticket", delay=0.4, usage=StepUsage(300, 90, 0.0008)),
        Step(
            "triage",
            "Triage",
            kind="gate",
            gate=GateSpec(
                kind="input",
                prompt="Set the owner and priority of the ticket.",
                fields=(
                    GateField("owner", "text", "Owner"),
                    GateField("priority", "select", "Priority", options=("low", "normal", "high")),
                ),
            ),
        ),
        Step("file", "File ticket", delay=0.4, tool="create_ticket", tool_result={"id": "T-7"}),
    ),
)

_BUDGET_DEMO = Workflow(
    id="budget-demo",
    name="Over budget",
    description="Costs more than its limit: fails at the second step with a cost-limit error.",
    max_cost_usd=0.01,
    steps=(
        Step("first", "First pass", delay=0.5, usage=StepUsage(2000, 600, 0.006)),
        Step("second", "Second pass", delay=0.5, usage=StepUsage(2000, 600, 0.006)),
        Step("third", "Third pass", delay=0.5, usage=StepUsage(2000, 600, 0.006)),
    ),
)

_BENCH_STREAM = Workflow(
    id="bench-stream",
    name="Event burst",
    description=(
        "No steps: only the burst its run options ask for (inputs `_sandbox.emit = {count, rate}`), each event "
        "stamped with its emit time. Load for benchmarks."
    ),
    result="Burst delivered.",
)

# -- orchestrations (the Synapse family): step ids and names as Synapse's example orchestrations have them.
# A human step is an `input` gate whose fields are the form; a step whose `output` names `switch_on` is shown by
# that family as a switch step deciding on an earlier human answer.

_ORCH_RESEARCH_REPORT = Workflow(
    id="orch-research-report",
    name="Research \u2192 Report",
    description="Research a topic and generate a report",
    result="Research and report generation complete.",
    steps=(
        Step("step-plan", "Plan", delay=0.5, usage=StepUsage(400, 120, 0.004), output="Search, summarise, draft."),
        Step(
            "step-research",
            "Research",
            kind="tool",
            delay=1.2,
            tool="web_search",
            tool_args={"query": "Synapse AI platform"},
            tool_result="Synapse AI is a multi-agent orchestration platform with typed steps and human gates.",
            usage=StepUsage(2600, 700, 0.015),
            output="Synapse AI is a multi-agent orchestration platform ...",
        ),
        Step(
            "step-draft",
            "Draft",
            delay=1.2,
            usage=StepUsage(3000, 1200, 0.021),
            output="Draft article: # Synapse AI Platform\n\nSynapse AI runs multi-agent orchestrations ...",
        ),
        Step(
            "step-approve",
            "Approval",
            kind="gate",
            gate=GateSpec(
                kind="input",
                prompt="Please review the draft article and decide whether to publish.",
                fields=(
                    GateField("decision", "select", "Decision", options=("approve", "reject")),
                    GateField("notes", "text", "Editor notes", required=False),
                ),
            ),
        ),
        Step(
            "step-report",
            "Report",
            delay=0.8,
            usage=StepUsage(1500, 900, 0.012),
            output="# Synapse AI Platform\n\nSynapse AI runs multi-agent orchestrations with human gates.",
        ),
    ),
)

_ORCH_COST_LIMIT = Workflow(
    id="orch-cost-limit",
    name="Deep research (capped)",
    description="Expensive research passes under a $0.50 limit: the second pass trips the cost limit.",
    max_cost_usd=0.50,
    steps=(
        Step(
            "step-scan",
            "Scan sources",
            kind="tool",
            delay=0.6,
            tool="web_search",
            tool_args={"query": "every paper on the topic"},
            tool_result="412 sources",
            usage=StepUsage(60000, 9000, 0.26),
        ),
        Step("step-analyse", "Analyse", delay=0.8, usage=StepUsage(60000, 9000, 0.26)),
        Step("step-report", "Report", delay=0.5, usage=StepUsage(3000, 900, 0.02)),
    ),
)

_ORCH_TWO_GATES = Workflow(
    id="orch-two-gates",
    name="Editorial review",
    description="An outline review gate, a switch on its decision, writing, then a one-field headline gate.",
    result="Article published.",
    steps=(
        Step("step-outline", "Outline", delay=0.5, usage=StepUsage(800, 300, 0.006), output="1. Intro 2. Findings"),
        Step(
            "step-review",
            "Outline review",
            kind="gate",
            gate=GateSpec(
                kind="input",
                prompt="Review the outline: approve it or ask for a revision.",
                fields=(
                    GateField("decision", "select", "Decision", options=("approve", "revise")),
                    GateField("notes", "text", "Notes for the writer", required=False),
                ),
            ),
        ),
        Step("step-route", "Route", delay=0.2, output={"switch_on": "decision", "from_step": "step-review"}),
        Step(
            "step-write",
            "Write",
            kind="tool",
            delay=1.0,
            tool="web_search",
            tool_args={"query": "supporting facts"},
            tool_result="3 sources",
            usage=StepUsage(3000, 1500, 0.024),
            output="# Article\n\nThree findings ...",
        ),
        Step(
            "step-headline",
            "Headline",
            kind="gate",
            gate=GateSpec(
                kind="input",
                prompt="Write the headline for the article.",
                fields=(GateField("headline", "text", "Headline"),),
            ),
        ),
        Step(
            "step-publish",
            "Publish",
            kind="tool",
            delay=0.5,
            tool="publish_post",
            tool_args={"channel": "blog"},
            tool_result={"url": "https://example.invalid/blog/article"},
            usage=StepUsage(200, 60, 0.001),
        ),
    ),
)

_ORCH_QUICK = Workflow(
    id="orch-quick-summary",
    name="Quick summary",
    description="Fetch a page and summarise it: three steps, no gate.",
    result="Summary ready.",
    steps=(
        Step(
            "step-fetch",
            "Fetch",
            kind="tool",
            delay=0.3,
            tool="fetch_url",
            tool_args={"url": "https://example.invalid/post"},
            tool_result="<html>...</html>",
            usage=StepUsage(300, 50, 0.001),
        ),
        Step("step-summarise", "Summarise", delay=0.5, usage=StepUsage(1200, 300, 0.004), output="A short summary."),
        Step("step-format", "Format", delay=0.2, output="- point one\n- point two"),
    ),
)


def _listed_in(families: frozenset[str], *workflows: Workflow) -> tuple[Workflow, ...]:
    return tuple(replace(w, listed_in=families) for w in workflows)


# Each example is listed by the family it was written for; any family runs any of them by id (the fault tests run
# `quick-demo` and `failing-demo` through the Synapse wire on purpose). `bench-stream` is load, listed nowhere.
EXAMPLE_WORKFLOWS: dict[str, Workflow] = {
    w.id: w
    for w in (
        *_listed_in(
            frozenset({"openwop"}),
            _APPROVAL_DEMO,
            _CLARIFY_DEMO,
            _FAILING_DEMO,
            _LONG_DEMO,
            _QUICK_DEMO,
            _EXTERNAL_DEMO,
            _INPUT_DEMO,
            _BUDGET_DEMO,
        ),
        *_listed_in(frozenset(), _BENCH_STREAM),
        *_listed_in(
            frozenset({"orchestrations"}), _ORCH_RESEARCH_REPORT, _ORCH_COST_LIMIT, _ORCH_TWO_GATES, _ORCH_QUICK
        ),
        *_listed_in(frozenset({"orchagent"}), *CHAT_WORKFLOWS),
    )
}
