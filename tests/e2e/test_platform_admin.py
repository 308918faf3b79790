"""The admin toolset through the official MCP client, against the platform sandbox: absent by default and in
read-only mode; every destructive tool confirmed by the person (accepted and declined, both eras, and `confirm: true`
without elicitation); a secret's value, a new API key and a webhook URL never in a result, the logs or the run store
(the key and the URL reach the person only by a new 0600 file, never by URL elicitation: refused without one, nothing
made); the checkout page put to the person."""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from tests.e2e.conftest import Transcript

from runbridge.core import Profile, Settings
from runbridge.core.config import ALL_TOOLSETS
from runbridge.sandbox import SandboxServer
from runbridge.server import visible_tools

pytestmark = pytest.mark.anyio

KEY_ENV = "RUNBRIDGE_E2E_PLATFORM_KEY"
VALUE_ENV = "RUNBRIDGE_E2E_SECRET_VALUE"
SECRET_VALUE = "s3cr3t-value-for-the-workspace-0042"
WS = "ws_acme_personal"
ERAS = ["legacy", "auto"]
ADMIN_TOOLS = {
    "schedules_list",
    "schedules_get",
    "schedules_create",
    "schedules_update",
    "schedules_trigger",
    "schedules_delete",
    "services_list",
    "services_get",
    "services_deploy",
    "services_update",
    "services_restart",
    "services_delete",
    "workspaces_list",
    "workspaces_members",
    "workspaces_create",
    "workspaces_invite",
    "secrets_list",
    "secrets_set",
    "secrets_delete",
    "billing_balance",
    "billing_checkout",
    "api_keys_list",
    "api_keys_create",
    "api_keys_delete",
}
DESTRUCTIVE = {"schedules_delete", "services_delete", "secrets_delete", "api_keys_delete"}


@pytest.fixture
def oa() -> Iterator[SandboxServer]:
    with SandboxServer("platform") as server:
        yield server


@pytest.fixture
def settings(oa: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv(KEY_ENV, oa.api_key)
    monkeypatch.setenv(VALUE_ENV, SECRET_VALUE)
    profile = Profile(name="oa", family="platform", base_url=oa.base_url, api_key_env=KEY_ENV)
    (tmp_path / "state").mkdir()
    return Settings(
        profiles={"oa": profile}, state_path=str(tmp_path / "state" / "state.db"), toolsets=ALL_TOOLSETS, wait_seconds=5
    )


def _text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def _ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, _text(result)
    return result.structured_content


def _get(oa: SandboxServer, path: str, **params: Any) -> Any:
    response = httpx2.get(f"{oa.base_url}{path}", headers=oa.headers, params=params)
    response.raise_for_status()
    return response.json()


def _store_bytes(settings: Settings) -> bytes:
    return b"".join(p.read_bytes() for p in Path(str(settings.state_path)).parent.iterdir() if p.is_file())


async def test_the_admin_toolset_is_off_by_default_and_hidden_in_read_only_mode(
    connect: Any, settings: Settings
) -> None:
    default = settings.model_copy(update={"toolsets": Settings().toolsets})
    read_only = settings.model_copy(update={"read_only": True})
    assert "admin" not in default.toolsets
    with anyio.fail_after(20):
        async with connect(mode="legacy", server_settings=default) as client:
            by_default = {t.name for t in (await client.list_tools()).tools}
        async with connect(mode="legacy", server_settings=read_only) as client:
            when_read_only = {t.name for t in (await client.list_tools()).tools}
        async with connect(mode="legacy") as client:
            listed = {t.name: t for t in (await client.list_tools()).tools}
    assert not by_default & ADMIN_TOOLS
    assert not when_read_only & ADMIN_TOOLS, "even the admin tools that only read are hidden"
    assert {s.name for s in visible_tools(read_only)} & ADMIN_TOOLS == set()
    assert set(listed) >= ADMIN_TOOLS
    for name in ADMIN_TOOLS:
        assert len(listed[name].description or "") > 40, name
        assert (listed[name].output_schema or {}).get("type") == "object", name
        hints = listed[name].annotations
        assert hints is not None
        assert hints.read_only_hint is name.endswith(("_list", "_get", "_members", "_balance")), name
        assert bool(hints.destructive_hint) is (name in DESTRUCTIVE), name
        if name in DESTRUCTIVE:
            assert "confirm" in listed[name].input_schema["properties"], name
    assert not any("value" in p for p in listed["secrets_set"].input_schema["properties"]), "never a literal value"


@pytest.mark.parametrize("mode", ERAS)
@pytest.mark.parametrize("answer", ["accept", "decline"])
async def test_every_delete_asks_the_person_first(
    mode: str, answer: str, connect: Any, human_factory: Any, oa: SandboxServer
) -> None:
    schedule = _get(oa, f"/workspaces/{WS}/schedules")["schedules"][0]
    service = _get(oa, f"/workspaces/{WS}/services")["services"][0]
    key = _get(oa, "/api-keys")["api_keys"][0]
    content = {"confirm": True} if answer == "accept" else None
    human = human_factory(*[(answer, content)] * 4)
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            results = [
                _ok(await client.call_tool("schedules_delete", {"schedule_id": schedule["id"]})),
                _ok(await client.call_tool("services_delete", {"service_id": service["id"]})),
                _ok(await client.call_tool("secrets_delete", {"name": "SLACK_CHANNEL"})),
                _ok(await client.call_tool("api_keys_delete", {"key_id": key["id"]})),
            ]
    questions = [q.message for q in human.questions]
    assert len(questions) == 4
    assert "summarizer" in questions[0]
    assert "notifier" in questions[1]
    assert "SLACK_CHANNEL" in questions[2]
    assert "sk_live_a1b2" in questions[3]
    remaining = (
        any(s["id"] == schedule["id"] for s in _get(oa, f"/workspaces/{WS}/schedules")["schedules"]),
        any(s["id"] == service["id"] for s in _get(oa, f"/workspaces/{WS}/services")["services"]),
        any(s["name"] == "SLACK_CHANNEL" for s in _get(oa, f"/workspaces/{WS}/secrets")["secrets"]),
        any(k["id"] == key["id"] for k in _get(oa, "/api-keys")["api_keys"]),
    )
    if answer == "accept":
        assert all(r["done"] is True for r in results)
        assert remaining == (False, False, False, False)
    else:
        assert all(r["done"] is False and "declined" in r["note"] for r in results)
        assert remaining == (True, True, True, True)


async def test_without_elicitation_a_delete_needs_confirm_true(connect: Any, oa: SandboxServer) -> None:
    schedule = _get(oa, f"/workspaces/{WS}/schedules")["schedules"][0]
    with anyio.fail_after(20):
        async with connect(mode="legacy", human=None) as client:
            refused = await client.call_tool("schedules_delete", {"schedule_id": schedule["id"]})
            kept = any(s["id"] == schedule["id"] for s in _get(oa, f"/workspaces/{WS}/schedules")["schedules"])
            done = _ok(await client.call_tool("schedules_delete", {"schedule_id": schedule["id"], "confirm": True}))
    assert refused.is_error
    assert "confirm: true" in _text(refused)
    assert kept
    assert done["done"] is True


async def test_secrets_and_new_keys_never_reach_the_model_the_store_or_the_logs(
    connect: Any, oa: SandboxServer, settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key_file = tmp_path / "new-key"
    value_file = tmp_path / "value"
    value_file.write_text("file-held-value-9876543210\n")
    value_file.chmod(0o600)
    transcript = Transcript(oa.api_key, SECRET_VALUE, "file-held-value-9876543210")
    with anyio.fail_after(30):
        async with connect(mode="legacy", human=None) as client:
            made = await transcript.ok(client, "secrets_set", {"name": "PAYMENTS_TOKEN", "from_env": VALUE_ENV})
            again = await transcript.ok(client, "secrets_set", {"name": "PAYMENTS_TOKEN", "from_env": VALUE_ENV})
            from_file = await transcript.ok(client, "secrets_set", {"name": "FROM_FILE", "from_file": str(value_file)})
            listed = await transcript.ok(client, "secrets_list", {})
            own_key = await transcript.refused(client, "secrets_set", {"name": "STOLEN", "from_env": KEY_ENV})
            key = await transcript.ok(client, "api_keys_create", {"name": "ci", "secret_file": str(key_file)})
            no_file = await transcript.refused(client, "api_keys_create", {"name": "ci-2", "secret_file": None})
            webhook_nowhere = await transcript.refused(
                client, "schedules_create", {"agent_name": "summarizer", "schedule_type": "webhook"}
            )
    assert made["record"]["name"] == "PAYMENTS_TOKEN"
    assert again["done"] is True
    assert from_file["done"] is True
    assert {"PAYMENTS_TOKEN", "FROM_FILE"} <= {s["name"] for s in listed["items"]}
    assert "runbridge never sends its own credentials" in own_key
    digest = _get(oa, "/_sandbox/platform/secret-digest", workspace=WS, name="PAYMENTS_TOKEN")["sha256"]
    assert digest == hashlib.sha256(SECRET_VALUE.encode()).hexdigest(), "the value reached the platform"
    # The new key: in a 0600 file for the person, never in the result.
    written = key_file.read_text().strip()
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    assert written.startswith("sk_live_")
    issued = _get(oa, "/_sandbox/platform/key-digest", id=key["record"]["id"])["sha256"]
    assert hashlib.sha256(written.encode()).hexdigest() == issued
    assert str(key_file) in key["note"]
    assert "secret_file" in no_file
    assert "secret_file" in webhook_nowhere
    assert not [s for s in _get(oa, f"/workspaces/{WS}/schedules")["schedules"] if s["run_count"] == 0], (
        "nothing was made that no one could see"
    )
    transcript.secrets.append(written)
    transcript.assert_clean()
    store = _store_bytes(settings)
    logs = caplog.text
    for secret in (SECRET_VALUE, "file-held-value-9876543210", written):
        assert secret.encode() not in store
        assert secret not in logs


def _schedule_ids(oa: SandboxServer) -> set[str]:
    return {s["id"] for s in _get(oa, f"/workspaces/{WS}/schedules")["schedules"]}


@pytest.mark.parametrize("mode", ERAS)
async def test_a_webhook_url_is_never_put_in_a_url_elicitation_but_the_payment_page_is(
    mode: str, connect: Any, human_factory: Any, oa: SandboxServer
) -> None:
    human = human_factory(("accept", None))
    before = _schedule_ids(oa)
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            refused = await client.call_tool(
                "schedules_create", {"agent_name": "summarizer", "schedule_type": "webhook"}
            )
            checkout = _ok(await client.call_tool("billing_checkout", {"amount_usd": 20}))
    assert refused.is_error
    message = _text(refused)
    assert "Nothing was made" in message
    assert "secret_file" in message
    assert "URL-mode elicitation" in message
    assert _schedule_ids(oa) == before, "nothing was made on the platform"
    (pay,) = human.questions  # the client could show a URL: it was asked for the payment page only
    assert pay.mode == "url"
    assert pay.url.startswith("https://checkout.")
    assert "/webhooks/" not in pay.url
    assert "record" not in checkout
    assert "shown to the person" in checkout["note"]


@pytest.mark.parametrize("mode", ERAS)
async def test_a_webhook_url_goes_only_to_a_new_0600_file_and_works(
    mode: str,
    connect: Any,
    human_factory: Any,
    oa: SandboxServer,
    settings: Settings,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    human = human_factory()
    hook_file = tmp_path / "hook"
    args = {"agent_name": "summarizer", "schedule_type": "webhook", "secret_file": str(hook_file)}
    with anyio.fail_after(30):
        async with connect(mode=mode, human=human) as client:
            made = _ok(await client.call_tool("schedules_create", args))
            read = _ok(await client.call_tool("schedules_get", {"schedule_id": made["record"]["id"]}))
            ids = _schedule_ids(oa)
            taken = await client.call_tool("schedules_create", args)
    assert human.questions == [], "the URL went nowhere but the file"
    url = hook_file.read_text().strip()
    assert stat.S_IMODE(os.stat(hook_file).st_mode) == 0o600
    assert f"/webhooks/{made['record']['id']}/whsec_" in url
    secret = url.rsplit("/", 1)[1]
    for doc in (made, read):
        assert secret not in str(doc)
        assert "webhook_url" not in doc["record"]
    assert made["record"]["webhook_secret_preview"].endswith(secret[-4:])
    assert str(hook_file) in made["note"]
    assert secret not in caplog.text
    assert secret.encode() not in _store_bytes(settings)
    fired = httpx2.post(url, json={"text": "from the hook"})
    assert fired.status_code == 202, "the URL in the file works"
    assert taken.is_error
    assert "already exists" in _text(taken)
    assert _schedule_ids(oa) == ids, "a refused call makes nothing"


async def test_without_elicitation_the_payment_page_goes_to_the_model(connect: Any, oa: SandboxServer) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy", human=None) as client:
            link = _ok(await client.call_tool("billing_checkout", {"amount_usd": 5}))
    assert link["record"]["checkout_url"].startswith("https://checkout.")


async def test_schedules_services_and_workspaces_end_to_end(connect: Any, oa: SandboxServer) -> None:
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            cron = _ok(
                await client.call_tool(
                    "schedules_create", {"agent_name": "summarizer", "cron_expression": "0 7 * * 1", "timezone": "UTC"}
                )
            )
            sid = cron["record"]["id"]
            paused = _ok(
                await client.call_tool("schedules_update", {"schedule_id": sid, "changes": {"enabled": False}})
            )
            ran = _ok(await client.call_tool("schedules_trigger", {"schedule_id": sid, "input_data": {"text": "now"}}))
            runs = _ok(await client.call_tool("schedules_get", {"schedule_id": sid, "view": "runs"}))
            events = _ok(await client.call_tool("schedules_get", {"schedule_id": sid, "view": "events"}))
            no_cron = await client.call_tool("schedules_create", {"agent_name": "summarizer"})
            immutable = await client.call_tool("schedules_update", {"schedule_id": sid, "changes": {"agent_id": "x"}})
            service = _ok(await client.call_tool("services_deploy", {"agent_name": "summarizer"}))
            missing = await client.call_tool(
                "services_deploy", {"agent_name": "summarizer", "secret_names": ["NOPE_TOKEN"]}
            )
            restarted = _ok(await client.call_tool("services_restart", {"service_id": service["record"]["id"]}))
            logs = _ok(await client.call_tool("services_get", {"service_id": service["record"]["id"], "view": "logs"}))
            team = _ok(await client.call_tool("workspaces_create", {"name": "Data Team"}))
            invited = _ok(
                await client.call_tool(
                    "workspaces_invite", {"email": "ana@acme.example", "workspace_id": team["record"]["id"]}
                )
            )
            members = _ok(await client.call_tool("workspaces_members", {"workspace_id": team["record"]["id"]}))
            balance = _ok(await client.call_tool("billing_balance", {"history": True}))
    assert paused["record"]["enabled"] is False
    assert ran["record"]["status"] == "completed"
    assert ran["record"]["run_id"] in {r["id"] for r in runs["items"]}
    assert [e["event_type"] for e in events["items"]][:2] == ["triggered", "updated"]
    assert no_cron.is_error
    assert "cron_expression" in _text(no_cron)
    assert immutable.is_error
    assert "agent_id" in _text(immutable)
    assert missing.is_error
    assert "NOPE_TOKEN" in _text(missing)
    assert restarted["record"]["restart_count"] == 1
    assert logs["items"]
    assert {"timestamp", "severity", "message"} <= set(logs["items"][0])
    assert invited["record"]["status"] == "pending"
    assert "ana@acme.example" in (members["note"] or "")
    state = httpx2.get(f"{oa.base_url}/_sandbox/platform").json()
    assert balance["record"]["balance_cents"] == state["balance_cents"]
    assert f"${state['balance_cents'] / 100:.2f}" in balance["note"]
    assert len(balance["items"]) >= 2


async def test_the_list_tools_and_a_service_update_end_to_end(connect: Any, oa: SandboxServer) -> None:
    """What each list tool shows is what the platform keeps (and never a key); a service update reaches the platform,
    and an unknown field is refused with the platform's word."""
    kept = {
        "schedules": _get(oa, f"/workspaces/{WS}/schedules")["schedules"],
        "services": _get(oa, f"/workspaces/{WS}/services")["services"],
        "workspaces": _get(oa, "/workspaces")["workspaces"],
        "api_keys": _get(oa, "/api-keys")["api_keys"],
    }
    service_id = kept["services"][0]["id"]
    with anyio.fail_after(30):
        async with connect(mode="legacy") as client:
            schedules = _ok(await client.call_tool("schedules_list", {}))
            first = _ok(await client.call_tool("schedules_list", {"limit": 1}))
            crons = _ok(await client.call_tool("schedules_list", {"schedule_type": "cron"}))
            services = _ok(await client.call_tool("services_list", {}))
            workspaces = _ok(await client.call_tool("workspaces_list", {}))
            keys = _ok(await client.call_tool("api_keys_list", {}))
            updated = _ok(
                await client.call_tool("services_update", {"service_id": service_id, "changes": {"max_instances": 3}})
            )
            refused = await client.call_tool("services_update", {"service_id": service_id, "changes": {"colour": 1}})
    assert {s["id"] for s in schedules["items"]} == {s["id"] for s in kept["schedules"]}
    assert schedules["total"] == len(kept["schedules"])
    cron_ids = [s["id"] for s in kept["schedules"] if s["schedule_type"] == "cron"]
    assert [s["id"] for s in crons["items"]] == cron_ids
    assert len(cron_ids) < len(kept["schedules"])
    assert len(first["items"]) == 1
    assert first["total"] == len(kept["schedules"]) > 1, "the total counts them all, beyond the page"
    assert {s["id"] for s in services["items"]} == {s["id"] for s in kept["services"]}
    assert services["total"] == len(kept["services"])
    assert {w["id"] for w in workspaces["items"]} == {w["id"] for w in kept["workspaces"]}
    assert WS in {w["id"] for w in workspaces["items"]}
    assert {k["id"] for k in keys["items"]} == {k["id"] for k in kept["api_keys"]}
    assert all("key" not in k for k in keys["items"])
    assert updated["record"]["id"] == service_id
    assert updated["record"]["max_instances"] == 3
    assert _get(oa, f"/workspaces/{WS}/services/{service_id}")["service"]["max_instances"] == 3
    assert refused.is_error
    assert "colour" in _text(refused)
