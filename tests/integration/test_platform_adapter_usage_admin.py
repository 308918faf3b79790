"""The platform adapter's usage views and administration against its sandbox over loopback, in bare (the CLI's) and
enveloped (the API overview's) answers: every view equal to the sandbox's own sums, paged logs, billing and secrets
on the documented paths first and the CLI's next, what is shown once kept out of records, 429 on a write waited out
and tried again, `is_retryable: false` never retried, errors mapped."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import anyio
import httpx2
import pytest
from tests.integration.platform_harness import adapter, requests_to, steer

from runbridge.core.errors import CursorError, InputError, NotFoundError, RateLimitedError, UnsupportedError
from runbridge.core.threads import SecretRefs
from runbridge.core.usage_views import UsageQuery
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio

WS = "ws_acme_personal"
VARIANTS = ["reference", "enveloped"]


@pytest.fixture(params=VARIANTS)
def variant(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def oa(variant: str) -> Iterator[SandboxServer]:
    with SandboxServer("platform", variant=variant) as server:
        yield server


def own_sums(oa: SandboxServer, **params: Any) -> dict[str, Any]:
    response = httpx2.get(f"{oa.base_url}/_sandbox/platform/usage", params={"workspace": WS, **params})
    response.raise_for_status()
    return response.json()


async def test_every_view_equals_the_sandbox_s_sums(oa: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    async with adapter(oa, monkeypatch, background=False) as backend:
        summary = await backend.usage_view(UsageQuery(view="summary", days=10))
        series = await backend.usage_view(UsageQuery(view="timeseries", days=10))
        agents = await backend.usage_view(UsageQuery(view="breakdown", days=10, tenant="tenant-south"))
        tenants = await backend.usage_view(UsageQuery(view="tenants", days=10))
        author = await backend.usage_view(UsageQuery(view="breakdown", side="author", days=10))
        metrics = await backend.usage_view(UsageQuery(view="metrics", days=10, agent="summarizer"))
        with pytest.raises(InputError, match="365"):
            await backend.usage_view(UsageQuery(view="summary", days=400))
        with pytest.raises(UnsupportedError):
            await backend.usage_view(UsageQuery(view="tenants", side="author"))
    sums = own_sums(oa, days=10)
    assert summary.figures.calls == sums["total_calls"]
    assert summary.figures.successful_calls == sums["successful_calls"]
    assert summary.figures.input_tokens == sums["input_tokens"]
    assert summary.figures.cost_usd == pytest.approx(sums["cost_cents"] / 100)
    assert series.figures.calls == sums["total_calls"]
    assert len(series.rows) == 11
    south = own_sums(oa, days=10, tenant="tenant-south")
    assert {r["agent"]: r["calls"] for r in agents.rows} == south["by_agent"]
    assert {r["tenant"]: r["calls"] for r in tenants.rows} == sums["by_tenant"]
    assert author.figures.revenue_usd == pytest.approx(own_sums(oa, days=10, author="true")["revenue_cents"] / 100)
    (row,) = metrics.rows
    assert row["agent"] == "summarizer"
    assert row["runs"] == metrics.figures.calls == own_sums(oa, days=10, agent_name="summarizer")["total_calls"]


async def test_logs_page_by_offset_cursor(oa: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    ids: list[str] = []
    async with adapter(oa, monkeypatch, background=False) as backend:
        cursor = None
        for _ in range(100):
            page = await backend.usage_view(UsageQuery(view="logs", days=5, limit=7, cursor=cursor, status="completed"))
            ids += [r["id"] for r in page.rows]
            assert all(r["status"] == "completed" for r in page.rows)
            cursor = page.next_cursor
            if cursor is None:
                break
        with pytest.raises(CursorError):
            await backend.usage_view(UsageQuery(view="logs", cursor="7"))
    done = own_sums(oa, days=5)["successful_calls"]
    assert len(ids) == len(set(ids)) == done


async def test_secrets_go_documented_path_first_then_the_cli_s(
    oa: SandboxServer, variant: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RUNBRIDGE_TEST_SECRET_VALUE", "value-one-123")
    refs = SecretRefs(from_env={"WEBHOOK_TOKEN": "RUNBRIDGE_TEST_SECRET_VALUE"})
    async with adapter(oa, monkeypatch, background=False) as backend:
        made = await backend.set_secret("WEBHOOK_TOKEN", refs)
        monkeypatch.setenv("RUNBRIDGE_TEST_SECRET_VALUE", "value-two-456")
        await backend.set_secret("WEBHOOK_TOKEN", refs)
        names = {s["name"] for s in (await backend.admin_list("secrets")).items}
        await backend.admin_delete("secrets", "WEBHOOK_TOKEN")
        after = {s["name"] for s in (await backend.admin_list("secrets")).items}
        with pytest.raises(NotFoundError):
            await backend.admin_delete("secrets", "WEBHOOK_TOKEN")
        with pytest.raises(InputError, match="RUNBRIDGE_TEST_UNSET"):
            await backend.set_secret("X_TOKEN", SecretRefs(from_env={"X_TOKEN": "RUNBRIDGE_TEST_UNSET"}))
    assert made["name"] == "WEBHOOK_TOKEN"
    assert "value" not in made
    assert "WEBHOOK_TOKEN" in names
    assert "WEBHOOK_TOKEN" not in after
    put = requests_to(oa, "PUT /workspaces/{workspace_id}/secrets")
    post = requests_to(oa, "POST /workspaces/{workspace_id}/secrets")
    patch = requests_to(oa, "PATCH /workspaces/{workspace_id}/secrets/{key}")
    deletes = requests_to(oa, "DELETE /workspaces/{workspace_id}/secrets/{key}")
    assert put == 2, "the documented path is always tried first"
    if variant == "enveloped":  # the API overview's paths: PUT creates and updates, DELETE by name
        assert (post, patch, deletes) == (0, 0, 2)
    else:  # the CLI's: POST creates, PATCH updates, DELETE by id after the name was not found
        assert (post, patch, deletes) == (1, 1, 3)


async def test_the_value_set_is_the_one_named(
    oa: SandboxServer, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    value = tmp_path / "v"
    value.write_text("from-a-file-789\n")
    value.chmod(0o600)
    loose = tmp_path / "loose"
    loose.write_text("x-loose-value\n")
    loose.chmod(0o644)
    async with adapter(oa, monkeypatch, background=False) as backend:
        await backend.set_secret("FILE_TOKEN", SecretRefs(from_file={"FILE_TOKEN": str(value)}))
        with pytest.raises(InputError, match="chmod 600"):
            await backend.set_secret("LOOSE_TOKEN", SecretRefs(from_file={"LOOSE_TOKEN": str(loose)}))
    digest = httpx2.get(
        f"{oa.base_url}/_sandbox/platform/secret-digest", params={"workspace": WS, "name": "FILE_TOKEN"}
    )
    assert digest.json()["sha256"] == hashlib.sha256(b"from-a-file-789").hexdigest()


async def test_billing_and_once_shown_values(oa: SandboxServer, variant: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async with adapter(oa, monkeypatch, background=False) as backend:
        balance = await backend.billing("balance")
        history = await backend.billing("history")
        url = await backend.checkout(1500)
        with pytest.raises(InputError):
            await backend.checkout(100)
        key = await backend.admin_create("api_keys", {"name": "deploy"})
        hook = await backend.admin_create("schedules", {"agent_name": "summarizer", "schedule_type": "webhook"})
        again = await backend.admin_get("schedules", hook.record["id"])
    assert balance.cents == steer(oa)["balance_cents"]
    assert "balance_cents" in balance.record, "the rest of the answer, as the platform says it"
    assert "recent_transactions" not in balance.record, "transactions come apart"
    assert balance.transactions
    assert len(history.transactions) >= 2
    assert url.startswith("https://checkout.")
    assert key.once is not None
    assert key.once.startswith("sk_live_")
    assert key.once_label == "API key"
    assert key.once not in str(key.record)
    assert hook.once is not None
    assert f"/webhooks/{hook.record['id']}/" in hook.once
    secret = hook.once.rsplit("/", 1)[1]
    for doc in (hook.record, again):
        assert "webhook_url" not in doc
        assert "webhook_secret" not in doc
        assert secret not in str(doc)
    documented = {"GET /billing/balance", "POST /billing/checkout"}
    cli = {"GET /billing/credits", "POST /billing/add-credits"}
    tried = {route for route in documented | cli if requests_to(oa, route)}
    assert tried == (documented if variant == "enveloped" else documented | cli), "documented first, then the CLI's"


async def test_a_write_refused_with_429_is_tried_again_and_a_final_refusal_is_not(
    oa: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(oa, monkeypatch, background=False) as backend:
        steer(
            oa, rate_limit={"count": 1, "path_prefix": "/workspaces/ws_acme_personal/services", "suggested_wait": 0.2}
        )
        made = await backend.admin_create("services", {"agent_name": "summarizer", "service_name": "retried"})
        steer(
            oa,
            rate_limit={"count": 5, "path_prefix": "/api-keys", "retryable": False, "suggested_wait": 0.1},
        )
        before = requests_to(oa, "POST /api-keys")
        with pytest.raises(RateLimitedError):
            await backend.admin_create("api_keys", {"name": "never"})
        tries = requests_to(oa, "POST /api-keys") - before
        with pytest.raises(NotFoundError, match="schedule"):
            await backend.admin_get("schedules", "nope")
    assert made.record["service_name"] == "retried"
    assert tries <= 1, "is_retryable false is never tried again"


async def test_a_usage_read_waits_out_a_short_rate_limit_and_reports_a_long_one(
    oa: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(oa, monkeypatch, background=False) as backend:
        steer(oa, rate_limit={"count": 1, "path_prefix": "/usage", "suggested_wait": 0.2})
        before = requests_to(oa, "GET /usage")
        summary = await backend.usage_view(UsageQuery(view="summary"))
        waited = requests_to(oa, "GET /usage") - before
        steer(oa, rate_limit={"count": 5, "path_prefix": "/usage", "suggested_wait": 3600})
        with pytest.raises(RateLimitedError) as refused:
            await backend.usage_view(UsageQuery(view="summary"))
    assert summary.figures.calls == own_sums(oa, days=30)["total_calls"]
    assert waited == 2, "refused once, then answered"
    assert "wait 3600 s" in str(refused.value)
    assert "quota resets at" in str(refused.value)


async def test_a_read_waits_no_longer_than_the_profile_allows(
    oa: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`max_rate_limit_wait_seconds` bounds a read's wait as a write's: a 429 asking for longer is reported at
    once, not waited out."""
    async with adapter(oa, monkeypatch, background=False, max_rate_limit_wait_seconds=1) as backend:
        steer(oa, rate_limit={"count": 1, "path_prefix": "/usage", "suggested_wait": 3})
        before = requests_to(oa, "GET /usage")
        started = anyio.current_time()
        with pytest.raises(RateLimitedError) as refused:
            await backend.usage_view(UsageQuery(view="summary"))
        took = anyio.current_time() - started
        asked = requests_to(oa, "GET /usage") - before
        steer(oa, rate_limit={"count": 1, "path_prefix": "/usage", "suggested_wait": 0.2})
        summary = await backend.usage_view(UsageQuery(view="summary"))
    assert asked == 1, "not tried again after a wait longer than the profile allows"
    assert took < 2.5
    assert "wait 3 s" in str(refused.value)
    assert summary.figures.calls == own_sums(oa, days=30)["total_calls"], "a wait within the limit is waited out"


async def test_listing_actions_answer_pages_without_the_wire_keys(
    oa: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A schedule's runs and events, a service's logs and a workspace's members come back as `AdminPage`s: the
    records and the total, whatever keys the platform wraps them in."""
    async with adapter(oa, monkeypatch, background=False) as backend:
        schedule = (await backend.admin_list("schedules")).items[0]
        service = (await backend.admin_list("services")).items[0]
        await backend.admin_action("schedules", schedule["id"], "trigger", {})
        await backend.admin_action("workspaces", "", "invite", {"email": "new@acme.example", "role": "member"})
        runs = await backend.admin_page("schedules", schedule["id"], "runs", params={"limit": 5})
        events = await backend.admin_page("schedules", schedule["id"], "events")
        logs = await backend.admin_page("services", service["id"], "logs", params={"limit": 3})
        members = await backend.admin_page("workspaces", "", "members")
        with pytest.raises(UnsupportedError):
            await backend.admin_page("schedules", schedule["id"], "trigger")
        with pytest.raises(UnsupportedError):
            await backend.admin_action("schedules", schedule["id"], "runs")
    assert runs.items
    assert isinstance(runs.total, int)
    assert runs.total >= len(runs.items)
    assert all("status" in r for r in runs.items)
    assert events.items
    assert 0 < len(logs.items) <= 3
    assert {m.get("email") for m in members.items} >= {"owner@acme.example"}
    assert [i.get("email") for i in members.pending] == ["new@acme.example"]
