"""A credential sent in a header of its own (`HttpClient(secret_header=...)`, the LangGraph Agent Server's
`x-api-key`): it goes there as it is, never also as a bearer token, and an anonymous request carries neither."""

from __future__ import annotations

import httpx2
import pytest

from runbridge.core.config import Profile
from runbridge.http import HttpClient, Secret

pytestmark = pytest.mark.anyio


async def test_the_key_goes_in_its_own_header_and_an_anonymous_request_sends_none() -> None:
    seen: list[httpx2.Headers] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        seen.append(request.headers)
        return httpx2.Response(200, json={})

    profile = Profile(name="p", family="langgraph", base_url="http://backend.test")
    client = HttpClient(
        profile, secret=Secret("k-123"), secret_header="x-api-key", transport=httpx2.MockTransport(answer)
    )
    try:
        await client.json("GET", "/info", action="read")
        await client.json("GET", "/info", action="read", anonymous=True)
    finally:
        await client.aclose()
    assert seen[0]["x-api-key"] == "k-123"
    assert "authorization" not in seen[0]
    assert "x-api-key" not in seen[1]
    assert "authorization" not in seen[1]
