"""Choosing the OpenWOP protocol version from the discovery document and the profile."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from pydantic import ValidationError

from runbridge.backends.openwop import OpenWopBackend
from runbridge.backends.openwop.discovery import Discovery
from runbridge.backends.openwop.versions import Wire, choose_version, pinned_version
from runbridge.core.config import Profile
from runbridge.core.errors import ConfigError, UnsupportedError
from runbridge.http import HttpClient, RetryPolicy, Secret


def _profile(**options: Any) -> Profile:
    return Profile(name="p", family="openwop", base_url="http://h.test", options=options)


@pytest.mark.parametrize(
    ("doc", "majors"),
    [
        ({"protocolVersion": "1.0"}, [1]),
        ({"protocolVersions": ["2.0"], "preferredVersion": "2.0"}, [2]),
        ({"protocolVersion": "1.0", "protocolVersions": ["1.0", "2.0"]}, [1, 2]),
        ({"protocolVersions": ["v1", 2, 2.0, "2.1"]}, [1, 2]),
        ({"protocolVersion": "latest", "protocolVersions": "2.0"}, []),
        ({"limits": {}}, []),
        ({}, []),
    ],
)
def test_the_versions_a_document_names(doc: dict[str, Any], majors: list[int]) -> None:
    assert Discovery(doc=doc).majors == majors


@pytest.mark.parametrize(
    ("doc", "chosen"),
    [({"protocolVersion": "1.0"}, 1), ({"protocolVersions": ["1.0", "2.0"]}, 2), ({"protocolVersions": ["2", "3"]}, 2)],
)
def test_the_newest_common_version_is_chosen(doc: dict[str, Any], chosen: int) -> None:
    assert choose_version(Discovery(doc=doc), None, _profile()) == chosen


def test_a_host_with_only_versions_runbridge_does_not_speak_is_refused() -> None:
    with pytest.raises(UnsupportedError, match=r"serves only protocol 3\.0.*runbridge speaks 1\.0 and 2\.0"):
        choose_version(Discovery(doc={"protocolVersions": ["3.0"]}), None, _profile())


def test_a_pin_with_no_usable_alternative_says_what_runbridge_speaks() -> None:
    with pytest.raises(ConfigError, match=r"serves only 3\.0.*runbridge speaks OpenWOP 1\.0 and 2\.0 only"):
        choose_version(Discovery(doc={"protocolVersions": ["3.0"]}), 2, _profile())


@pytest.mark.parametrize(("raw", "pinned"), [(None, None), (1, 1), ("2", 2), ("2.0", 2), ("v1", 1), (2.0, 2)])
def test_a_pin_is_read_in_any_usual_spelling(raw: object, pinned: int | None) -> None:
    options = {} if raw is None else {"protocol_version": raw}
    assert pinned_version(_profile(**options)) == pinned


@pytest.mark.parametrize("raw", [3, "two", True, 0])
def test_a_pin_runbridge_cannot_speak_is_refused_when_the_profile_is_read(raw: object) -> None:
    with pytest.raises(ValidationError, match=r"options\.protocol_version: must be 1 or 2"):
        _profile(protocol_version=raw)


def test_each_version_writes_its_paths_and_headers() -> None:
    assert (Wire(1).prefix, Wire(1).headers) == ("/v1", {})
    assert (Wire(2).prefix, Wire(2).headers) == ("", {"OpenWOP-Version": "2.0"})


@pytest.mark.anyio
async def test_a_host_that_cannot_be_asked_is_spoken_to_in_v1_and_asked_again_next_time() -> None:
    up = {"now": False}
    asked: list[str] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        asked.append(f"{request.url.path} {request.headers.get('openwop-version', '-')}")
        if not up["now"]:
            raise httpx2.ConnectError("refused", request=request)
        if request.url.path == "/.well-known/openwop":
            return httpx2.Response(200, json={"protocolVersions": ["1.0", "2.0"], "preferredVersion": "2.0"})
        return httpx2.Response(200, json={"workflowId": "w", "nodes": []})

    profile = _profile()
    http = HttpClient(
        profile, secret=Secret("k"), retry=RetryPolicy(attempts=1), transport=httpx2.MockTransport(answer)
    )
    backend = OpenWopBackend(profile, http)
    assert (await backend.wire()).version == 1, "nothing known yet: v1"
    up["now"] = True
    assert (await backend.wire()).version == 2, "discovery was asked again once the host answered"
    await backend.describe_target("w")
    await backend.aclose()
    assert asked[-1] == "/workflows/w 2.0"
    assert asked.count("/.well-known/openwop -") == 2
