"""The platform adapter's pure helpers: agent references, both success shapes, the quota note, the secret names of
`MISSING_SECRETS`, and a precondition said as what the person must do."""

from __future__ import annotations

import time

import httpx2
import pytest

from runbridge.backends.platform.client import PATHS, PlatformHttp, Quota, unwrap
from runbridge.backends.platform.errors import explain, missing_secrets
from runbridge.backends.platform.refs import AgentRef, parse_ref
from runbridge.backends.platform.spec import PlatformOptions
from runbridge.core import Profile
from runbridge.core.errors import BadRequestError, InputError
from runbridge.http import HttpClient


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("acme/summarizer@v2", AgentRef("acme", "summarizer", "v2")),
        ("acme/summarizer/v2", AgentRef("acme", "summarizer", "v2")),
        ("acme/summarizer", AgentRef("acme", "summarizer", "latest")),
        ("joe/leak-finder@latest", AgentRef("joe", "leak-finder", "latest")),
        ("761b229b-ea50-58fe-84dc-7785756cf8ee", "761b229b-ea50-58fe-84dc-7785756cf8ee"),
    ],
)
def test_an_agent_is_named_by_reference_or_by_id(text: str, expected: object) -> None:
    assert parse_ref(text) == expected


@pytest.mark.parametrize("text", ["a/b/c/d", "../etc/passwd", "acme summarizer", "", "x" * 200])
def test_anything_else_is_refused_saying_what_an_agent_looks_like(text: str) -> None:
    with pytest.raises(InputError, match="org/agent@version"):
        parse_ref(text)


def test_a_body_is_unwrapped_only_when_it_is_the_envelope() -> None:
    assert unwrap({"data": {"a": 1}, "metadata": {"request_id": "r"}}) == ({"a": 1}, {"request_id": "r"}, [])
    assert unwrap({"data": [1], "warnings": [{"code": "W"}]}) == ([1], {}, [{"code": "W"}])
    assert unwrap({"data": {"a": 1}}) == ({"data": {"a": 1}}, {}, []), "an agent's own `data` key stays"
    assert unwrap([{"id": "x"}]) == ([{"id": "x"}], {}, [])


def test_the_quota_is_said_only_when_it_runs_low() -> None:
    quota = Quota()
    reset = int(time.time()) + 3600
    quota.read(
        httpx2.Headers({"X-RateLimit-Limit": "1000", "X-RateLimit-Remaining": "500", "X-RateLimit-Reset": str(reset)})
    )
    assert quota.note(0.1) is None
    quota.read(httpx2.Headers({"X-RateLimit-Remaining": "37"}))
    note = quota.note(0.1)
    assert note is not None
    assert note.startswith("37 of 1000 calls left")
    assert "resets at" in note
    assert 3590 < (quota.seconds_to_reset() or 0) <= 3600
    quota.read(httpx2.Headers({"X-RateLimit-Remaining": "garbled"}))
    assert quota.remaining == 37, "a garbled header changes nothing"


def test_missing_secret_names_are_read_from_the_message() -> None:
    assert missing_secrets("Agent requires secrets that were not found in workspace: SLACK_TOKEN, DB_URL.") == [
        "SLACK_TOKEN",
        "DB_URL",
    ]


def test_a_precondition_says_what_to_do_and_is_never_retried() -> None:
    profile = Profile(name="oa", family="platform", base_url="https://api.orchagent.io")
    error = BadRequestError("Could not call agent x: needs a key", status=400, code="LLM_KEY_REQUIRED")
    error.retryable = True
    said = explain(error, profile, PlatformOptions())
    assert said.retryable is False
    assert "options.llm_credentials" in str(said)
    other = explain(BadRequestError("bad", status=400, code="INVALID_INPUT"), profile, PlatformOptions())
    assert str(other) == "bad (HTTP 400, INVALID_INPUT)."


def _answering(statuses: dict[str, int]) -> tuple[PlatformHttp, list[str]]:
    """The platform's HTTP layer on a transport that answers each `METHOD path` with its status (200 with a body)."""
    asked: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        key = f"{request.method} {request.url.path}"
        asked.append(key)
        status = statuses.get(key, 404)
        body = (
            {"balance_cents": 5} if status == 200 else {"error": {"code": "X", "message": "no", "is_retryable": False}}
        )
        return httpx2.Response(status, json=body)

    profile = Profile(name="oa", family="platform", base_url="https://api.orchagent.io", max_retries=0)
    http = HttpClient(profile, transport=httpx2.MockTransport(answer))
    return PlatformHttp(profile, PlatformOptions(), http), asked


@pytest.mark.anyio
@pytest.mark.parametrize("refusal", [404, 405])
async def test_a_path_the_server_does_not_have_falls_back_to_the_clis(refusal: int) -> None:
    wire, asked = _answering({"GET /billing/balance": refusal, "GET /billing/credits": 200})
    answer = await wire.first_of(PATHS["billing.balance"], action="read the balance")
    assert answer.data == {"balance_cents": 5}
    assert asked == ["GET /billing/balance", "GET /billing/credits"], "the documented path first"


@pytest.mark.anyio
async def test_any_other_refusal_is_the_answer_and_nothing_else_is_tried() -> None:
    wire, asked = _answering({"PUT /workspaces/ws1/secrets": 400})
    with pytest.raises(BadRequestError):
        await wire.first_of(PATHS["secrets.set"], action="set the secret", fill={"workspace": "ws1"}, json={})
    assert asked == ["PUT /workspaces/ws1/secrets"]
