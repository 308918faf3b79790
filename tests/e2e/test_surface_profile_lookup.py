"""Runs and gates of a profile other than the default: found by their id alone (runbridge recorded which profile
they belong to), and a call naming the wrong profile says which one to name."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import pytest

from runbridge.core import Profile, Settings
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

SYNAPSE_KEY_ENV = "RUNBRIDGE_E2E_LOOKUP_SYNAPSE_KEY"


@pytest.fixture(scope="module")
def synapse() -> Iterator[SandboxServer]:
    with SandboxServer("orchestrations", keepalive_seconds=0.2) as server:
        yield server


@pytest.fixture
def two_profiles(settings: Settings, synapse: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """The conftest's OpenWOP profile (the default, first) and a Synapse profile after it."""
    monkeypatch.setenv(SYNAPSE_KEY_ENV, synapse.api_key)
    other = Profile(name="synapse", family="orchestrations", base_url=synapse.base_url, api_key_env=SYNAPSE_KEY_ENV)
    return settings.model_copy(update={"profiles": {**settings.profiles, "synapse": other}})


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_run_and_gate_of_another_profile_are_found_by_id_alone(
    mode: str, connect: Any, transcript: Any, two_profiles: Settings
) -> None:
    with anyio.fail_after(30):
        async with connect(mode=mode, server_settings=two_profiles) as client:
            waiting = await transcript.ok(
                client, "runs_start", {"target_id": "orch-research-report", "profile": "synapse"}
            )
            run_id, gate_id = waiting["run_id"], waiting["waiting_for"]["gate_id"]
            got = await transcript.ok(client, "runs_get", {"run_id": run_id})
            events = await transcript.ok(client, "runs_events", {"run_id": run_id, "limit": 2})
            done = await transcript.ok(
                client,
                "gates_respond",
                {"gate_id": gate_id, "decision": "accept", "values": {"decision": "approve"}},
            )
            quick = await transcript.ok(client, "runs_start", {"target_id": "quick-demo"})
    assert waiting["status"] == "waiting"
    assert (got["profile"], got["run"]["run_id"]) == ("synapse", run_id)
    assert events["events"], events
    assert (done["profile"], done["status"], done["decision"]) == ("synapse", "completed", "accepted")
    assert quick["profile"] == "sandbox", "a call about no recorded run still goes to the default profile"


async def test_naming_the_wrong_profile_says_which_profile_the_run_and_gate_are_on(
    connect: Any, transcript: Any, two_profiles: Settings
) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy", server_settings=two_profiles) as client:
            waiting = await transcript.ok(
                client, "runs_start", {"target_id": "orch-research-report", "profile": "synapse"}
            )
            run_id, gate_id = waiting["run_id"], waiting["waiting_for"]["gate_id"]
            get = await transcript.refused(client, "runs_get", {"run_id": run_id, "profile": "sandbox"})
            gate = await transcript.refused(
                client, "gates_respond", {"gate_id": gate_id, "decision": "decline", "values": {}, "profile": "sandbox"}
            )
            still_open = await transcript.ok(client, "gates_list", {"profile": "synapse"})
    assert "not found" in get.lower()
    assert f"runbridge saw run {run_id!r} on profile 'synapse': call again with profile='synapse'" in get
    assert f"Unknown gate {gate_id!r} on profile 'sandbox'" in gate
    assert "call again with profile='synapse'" in gate
    assert [g["gate_id"] for g in still_open["gates"]] == [gate_id]


@pytest.fixture(scope="module")
def orchagent() -> Iterator[SandboxServer]:
    with SandboxServer("orchagent", keepalive_seconds=0.2) as server:
        yield server


async def test_a_capability_only_one_profile_has_goes_there_and_others_name_it(
    connect: Any,
    transcript: Any,
    two_profiles: Settings,
    orchagent: SandboxServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RUNBRIDGE_E2E_LOOKUP_OA_KEY", orchagent.api_key)
    oa = Profile(name="oa", family="orchagent", base_url=orchagent.base_url, api_key_env="RUNBRIDGE_E2E_LOOKUP_OA_KEY")
    three = two_profiles.model_copy(update={"profiles": {**two_profiles.profiles, "oa": oa}})
    with anyio.fail_after(30):
        async with connect(mode="legacy", server_settings=three) as client:
            thread = await transcript.ok(client, "threads_create", {"spec": {"workflow": "chat"}})
            fork = await transcript.refused(client, "runs_fork", {"run_id": "run_x", "profile": "synapse"})
            targets = await transcript.refused(client, "targets_list", {"profile": "oa"})
    assert thread["profile"] == "oa", "the default profile (OpenWOP) has no threads; the one profile that has is used"
    assert fork.endswith("Profile 'synapse' (orchestrations) does not support fork. Pass profile='sandbox' instead.")
    assert "Profile 'oa' (orchagent) does not support targets. Pass profile='sandbox' or profile='synapse'" in targets
