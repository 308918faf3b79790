"""A host that refuses fork, the ways real hosts do (404, 405, 501, 422 `capability_not_provided`): `fork_run` is
a clear "not supported" error saying what to do instead, told apart from an unknown run, whatever discovery says."""

from __future__ import annotations

import anyio
import pytest
from openwop_harness import DEADLINE, Connect, MakeSandbox, collect, start

from runbridge.core.errors import NotFoundError, UnsupportedError
from runbridge.core.models import EventKind, RunStatus

pytestmark = pytest.mark.anyio

REFUSALS = [
    (404, "HTTP 404, not_found"),
    (405, "HTTP 405, method_not_allowed"),
    (501, "HTTP 501, not_implemented"),
    (422, "HTTP 422, capability_not_provided"),
]


@pytest.mark.parametrize(("refusal", "answer"), REFUSALS, ids=[str(r) for r, _ in REFUSALS])
@pytest.mark.parametrize("advertised", [False, True], ids=["discovery-denies", "discovery-advertises"])
async def test_a_refused_fork_is_an_actionable_unsupported_error(
    refusal: int, answer: str, advertised: bool, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"fork_refusal": refusal, "discovery_says_fork": advertised})
    backend = connect(sandbox)
    source = await start(backend, "quick-demo")
    assert (await collect(backend, source.run_id)).last.kind is EventKind.RUN_COMPLETED
    with anyio.fail_after(DEADLINE), pytest.raises(UnsupportedError) as raised:
        await backend.fork_run(source.run_id, from_seq=1)
    message = str(raised.value)
    assert message.startswith(f"This OpenWOP host refused to fork run {source.run_id}: it does not support forking")
    assert f"({answer})" in message
    if advertised:
        assert "although its discovery document advertises fork" in message
    else:
        assert "its discovery document does not advertise fork either" in message
    assert f"Run {source.run_id} is unchanged." in message
    assert "Do not retry runs_fork on this profile" in message
    assert "start a new run with runs_start" in message
    assert message.count("..") == 0
    stats = sandbox.stats()
    assert stats["forks"] == 0
    assert stats["requests"]["POST /v1/runs/{run_id}:fork"] == 1, "a refusal is not retried"
    with anyio.fail_after(DEADLINE):
        assert (await backend.get_run(source.run_id)).status is RunStatus.COMPLETED


@pytest.mark.parametrize("refusal", [404, 405])
async def test_an_unknown_run_on_a_refusing_host_is_not_found_not_unsupported(
    refusal: int, make_sandbox: MakeSandbox, connect: Connect
) -> None:
    sandbox = make_sandbox(variant={"fork_refusal": refusal})
    backend = connect(sandbox)
    with anyio.fail_after(DEADLINE):
        if refusal == 404:
            with pytest.raises(NotFoundError, match="No run with that id"):
                await backend.fork_run("run_does_not_exist")
        else:  # 405 says nothing about the run: the host cannot fork, whatever the id
            with pytest.raises(UnsupportedError, match="does not support forking"):
                await backend.fork_run("run_does_not_exist")


async def test_a_host_that_forks_is_unaffected(make_sandbox: MakeSandbox, connect: Connect) -> None:
    sandbox = make_sandbox(variant={"fork_refusal": None})
    backend = connect(sandbox)
    source = await start(backend, "quick-demo")
    await collect(backend, source.run_id)
    with anyio.fail_after(DEADLINE):
        fork = await backend.fork_run(source.run_id)
    assert fork.parent_run_id == source.run_id
    assert sandbox.stats()["forks"] == 1
