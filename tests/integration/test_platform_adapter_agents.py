"""The platform adapter against the platform sandbox over loopback: the public catalogue, the account's agents and
their management, in both answer shapes (bare, as the official CLI reads them, and enveloped, as documented)."""

from __future__ import annotations

import pytest
from tests.integration.platform_harness import adapter, platform, requests_to

from runbridge.core.errors import BadRequestError, InputError, NotFoundError
from runbridge.sandbox import SandboxServer

pytestmark = pytest.mark.anyio
_ = platform

VARIANTS = ["reference", "enveloped"]


@pytest.fixture(params=VARIANTS)
def shaped(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    with SandboxServer("platform", variant=request.param) as server:
        yield server


async def test_the_catalogue_lists_sorts_searches_filters_by_tag_and_pages(
    shaped: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(shaped, monkeypatch) as backend:
        by_stars = await backend.list_agents(sort="stars", limit=2)
        rest = await backend.list_agents(sort="stars", cursor=by_stars.next_cursor, limit=50)
        by_name = await backend.list_agents(sort="name", limit=50)
        tagged = await backend.list_agents(tags=["text", "i18n"])
        found = await backend.list_agents(search="leaked secrets")
        with pytest.raises(InputError, match="stars, recent, name"):
            await backend.list_agents(sort="price")
    assert [a.id for a in by_stars.items] == ["joe/leak-finder", "joe/translator"]
    assert by_stars.total == 6
    assert by_stars.next_cursor == "2"
    assert len(rest.items) == 4
    assert rest.next_cursor is None
    assert [a.name for a in by_name.items] == sorted(a.name for a in by_name.items)
    private = {"slack-notifier", "nightly-report", "flaky"}
    assert not private & {a.name for a in by_name.items}, "private agents are not in the public catalogue"
    assert [(a.id, a.version) for a in tagged.items] == [("joe/translator", "v2")]  # the newest version only
    assert [a.id for a in found.items] == ["joe/leak-finder"]
    leak = found.items[0]
    assert leak.details["ref"] == "joe/leak-finder@v1"
    assert leak.visibility == "public"
    assert "streams" not in leak.details


async def test_an_agent_in_detail_has_its_schemas_and_download_info(
    shaped: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(shaped, monkeypatch) as backend:
        latest = await backend.get_agent("acme/summarizer")
        first = await backend.get_agent("acme/summarizer@v1")
        paid = await backend.get_agent("acme/invoice-scanner/v1")
        closed = await backend.get_agent("acme/byok-writer")
        private = await backend.get_agent("acme/slack-notifier")  # the account's own private agent
        with pytest.raises(NotFoundError, match="No agent joe/nothing@latest"):
            await backend.get_agent("joe/nothing")
    assert latest.version == "v2"
    assert first.version == "v1"
    assert latest.details["streams"] is False
    assert latest.input_schema == {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    assert latest.output_schema is not None
    assert "bullets" in latest.output_schema["properties"]
    assert latest.details["download"]["available"] is True
    assert latest.details["download"]["source_url"] == "https://example.org/acme/sum"
    assert paid.details["download"]["available"] is False
    assert paid.details["download"]["code"] == "PAID_AGENT_SERVER_ONLY"
    assert "call it with agents_call instead" in paid.details["download"]["why"]
    assert paid.details["pricing_mode"] == "per_call"
    assert paid.details["price_per_call_cents"] == 5
    assert closed.details["download"]["code"] == "DOWNLOAD_DISABLED"
    assert private.visibility == "private"
    assert private.details["required_secrets"] == ["SLACK_TOKEN", "SLACK_CHANNEL"]


async def test_the_accounts_agents_are_targets_and_a_workspace_list(
    shaped: SandboxServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with adapter(shaped, monkeypatch) as backend:
        mine = await backend.list_agents(scope="workspace", limit=100)
        summarizers = await backend.list_agents(scope="workspace", search="summarises")
        targets = await backend.list_targets(limit=100)
        described = await backend.describe_target("acme/repo-auditor@v1")
    assert {a.details["org"] for a in mine.items} == {"acme"}
    assert {a.name for a in mine.items} >= {"summarizer", "slack-notifier", "nightly-report", "flaky"}
    assert all("/" not in a.id for a in mine.items), "one of the account's agents is named by its id"
    assert sorted(a.version or "" for a in summarizers.items) == ["v1", "v2"]
    assert "acme/summarizer@v2" in {t.id for t in targets.items}
    assert all(t.kind == "agent" for t in targets.items)
    assert described.id == "acme/repo-auditor@v1"
    assert described.input_schema is not None


async def test_register_update_fork_and_delete(shaped: SandboxServer, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"name": "haiku", "type": "prompt", "description": "Writes haiku.", "prompt": "Write a haiku."}
    async with adapter(shaped, monkeypatch) as backend:
        created = await backend.create_agent(spec)
        updated = await backend.update_agent(created.id, {"description": "Writes better haiku.", "tags": ["poetry"]})
        patches = requests_to(shaped, "PATCH /agents/{agent_id}")
        with pytest.raises(InputError, match=r"run_mode, loop cannot be changed.*publish a new version"):
            await backend.update_agent(created.id, {"run_mode": "always_on", "loop": {}, "description": "x"})
        assert requests_to(shaped, "PATCH /agents/{agent_id}") == patches, "refused before anything was sent"
        with pytest.raises(BadRequestError, match="Unknown fields"):
            await backend.update_agent(created.id, {"colour": "blue"})
        fork = await backend.fork_agent("joe/leak-finder", new_name="my-leak-finder")
        with pytest.raises(Exception, match="Only public, source-available agents"):
            await backend.fork_agent("acme/invoice-scanner@v1")
        preview = await backend.delete_preview("acme/summarizer@v1")
        await backend.delete_agent("acme/summarizer@v1", all_versions=True)  # starred: needs its name repeated
        await backend.delete_agent(created.id)
        left = {a.name for a in (await backend.list_agents(scope="workspace", limit=100)).items}
    assert created.name == "haiku"
    assert created.version == "v1"
    assert created.visibility == "private"
    assert updated.description == "Writes better haiku."
    assert updated.tags == ["poetry"]
    assert fork.name == "my-leak-finder"
    assert fork.details["org"] == "acme"
    assert fork.details["streams"] is True
    assert preview == "Agent summarizer has 41 stars and 3 forks. orchagent.io keeps a deleted agent for 30 days."
    assert "summarizer" not in left
    assert "haiku" not in left
    assert "my-leak-finder" in left
    assert requests_to(shaped, "GET /agents/{agent_id}/delete-check") >= 3  # before each deletion, and the preview
