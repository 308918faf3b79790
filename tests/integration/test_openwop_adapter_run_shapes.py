"""Run shapes seen on real OpenWOP hosts, as the sandbox reproduces them: a poll that leaves out the event right
after its cursor (every event still read once), a host with no workflow-describe route (its workflows still
runnable), a fork that needs a sequence (from the run's last event when none is given), a cancel answered
`cancelling` (the settled status reported), and `offers` (what `next` may suggest)."""

from __future__ import annotations

import pytest
from openwop_harness import Connect, MakeSandbox, collect, start

from runbridge.core.errors import NotFoundError
from runbridge.core.models import Run, RunStatus
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

FORK = "POST /v1/runs/{run_id}:fork"


async def test_a_poll_that_leaves_out_the_next_event_is_read_again_so_no_event_is_lost(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    whole = connect(make_sandbox())
    run = await start(whole, "long-demo")
    expected = [(e.seq, e.raw_type) for e in (await collect(whole, run.run_id)).events]

    backend = connect(make_sandbox(variant={"poll_drops_next": True}))
    run = await start(backend, "long-demo")
    await collect(backend, run.run_id)  # let it end
    got: list[tuple[str, str]] = []
    cursor: str | None = None
    for _ in range(len(expected) + 1):
        page = await backend.event_page(run.run_id, cursor=cursor)
        assert page is not None
        got += [(e.seq, e.raw_type) for e in page.events[:3]]  # small pages: a cursor on almost every event
        if not page.events[:3]:
            break
        cursor = page.events[:3][-1].seq
    assert got == expected


async def test_a_host_without_the_describe_route_lists_its_workflows_as_runnable(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox(variant={"describe_route": False}))
    page = await backend.list_targets()
    assert [t.id for t in page.items][:2] == backend.profile.workflows[:2]
    for target in page.items:
        assert target.description is not None
        assert "runs_start runs it" in target.description
        assert target.input_schema is None
    described = await backend.describe_target("quick-demo")
    assert described.details == {"described": False}
    with pytest.raises(NotFoundError):  # an id the profile does not name is not taken on trust
        await backend.describe_target("../../etc/passwd")
    assert (await collect(backend, (await start(backend, "quick-demo")).run_id)).last.raw_type == "run.completed"


async def test_an_unknown_workflow_is_still_unknown_where_the_host_describes_workflows(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox())
    with pytest.raises(NotFoundError, match="credentials may be wrong"):
        await backend.describe_target("no-such-workflow")


async def test_a_fork_without_a_sequence_forks_from_the_last_event_where_the_host_needs_one(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"fork_needs_seq": True})
    backend = connect(sandbox)
    run = await start(backend, "quick-demo")
    source = await collect(backend, run.run_id)
    assert not backend.offers("fork", Run(run_id=run.run_id, status=RunStatus.COMPLETED)), "not known to fork yet"
    forked = await backend.fork_run(run.run_id)
    assert forked.parent_run_id == run.run_id
    assert sandbox.stats()["requests"][FORK] == 2, "tried without a sequence, then from the last event"
    copied = await collect(backend, forked.run_id)
    assert [e.raw_type for e in copied.events][: len(source.events) - 1] == [e.raw_type for e in source.events][:-1]
    assert copied.last.raw_type == "run.completed"
    assert backend.offers("fork", Run(run_id=run.run_id, status=RunStatus.COMPLETED)), "it forked: offered from now"


async def test_a_refused_fork_is_never_offered_again_and_cancel_only_while_the_run_goes_on(
    make_sandbox: MakeSandbox, connect: Connect
) -> None:
    backend = connect(make_sandbox(variant={"fork_refusal": 404}))
    run = await start(backend, "quick-demo")
    await collect(backend, run.run_id)
    with pytest.raises(Exception, match="does not support forking"):
        await backend.fork_run(run.run_id)
    assert not backend.offers("fork", Run(run_id=run.run_id, status=RunStatus.COMPLETED))
    assert backend.offers("cancel", Run(run_id=run.run_id, status=RunStatus.RUNNING))
    assert not backend.offers("cancel", Run(run_id=run.run_id, status=RunStatus.COMPLETED))


async def test_a_cancel_reports_the_status_the_host_settles_on(make_sandbox: MakeSandbox, connect: Connect) -> None:
    backend = connect(make_sandbox())
    run = await start(backend, "approval-demo")
    cancelled = await backend.cancel_run(run.run_id)
    assert cancelled.status is RunStatus.CANCELLED
    assert (await backend.get_run(run.run_id)).status is RunStatus.CANCELLED


async def test_a_run_read_by_a_fresh_adapter_names_its_current_step_by_label(
    sandbox: SandboxServer, connect: Connect
) -> None:
    """After a restart (a new adapter), runs_get's current step is the workflow's label, not the node id."""
    run = await start(connect(sandbox), "approval-demo")
    fresh = connect(sandbox)
    for _ in range(100):
        read = await fresh.get_run(run.run_id)
        if read.status is RunStatus.WAITING:
            break
    assert read.current_step is not None
    assert (read.current_step.id, read.current_step.name) == ("approve", "Approve")
    await fresh.cancel_run(run.run_id)
