"""A run's locator (`RunLocatorAPI`): what an adapter returns with a run to find it again, and takes back in another
process (a runbridge restarted, or a second one on the same state file). OpenWOP's is the run's `eventsUrl` and its
workflow; a link to another origin is never followed, even when it comes back from the state file."""

from __future__ import annotations

import pytest
from openwop_harness import Connect, closed_port, collect, start

from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio


async def test_an_openwop_run_carries_its_events_link_and_workflow_and_a_new_adapter_follows_it(
    connect: Connect, sandbox: SandboxServer
) -> None:
    run = await start(connect(sandbox), "quick-demo")
    assert run.locator == {
        "events_url": f"{sandbox.base_url}/v1/runs/{run.run_id}/events",
        "workflow_id": "quick-demo",
    }
    elsewhere = connect(sandbox)  # another process: it knows nothing of the run but its locator
    elsewhere.locate_run(run.run_id, run.locator)
    watched = await collect(elsewhere, run.run_id)
    assert watched.events[-1].terminal
    assert [e.seq for e in watched.events] == sorted({e.seq for e in watched.events}, key=int)


async def test_a_stored_events_link_to_another_origin_is_never_followed(
    connect: Connect, sandbox: SandboxServer
) -> None:
    """The state file is the user's, but a link in it is checked as when the host gave it: every request carries the
    key, so a link off the profile's origin is dropped and the run's events are read where the host serves them."""
    run = await start(connect(sandbox), "quick-demo")
    foreign = f"http://127.0.0.1:{closed_port()}/v1/runs/{run.run_id}/events"
    elsewhere = connect(sandbox)
    elsewhere.locate_run(run.run_id, {"events_url": foreign, "workflow_id": "quick-demo"})
    watched = await collect(elsewhere, run.run_id)
    assert watched.events[-1].terminal
    assert sandbox.stats()["stream_connections"] >= 1
