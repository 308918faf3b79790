"""The Host and Origin rules of `serve --http` (server/http_guard.py), value by value: every spelling of loopback is
this machine, any other name is not unless listed, and malformed headers are refused rather than guessed at."""

from __future__ import annotations

import pytest

from runbridge.server.http_guard import is_loopback, is_unspecified, rules_for


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.0.0.2",
        "127.255.255.254",
        "::1",
        "0:0:0:0:0:0:0:1",
        "[::1]",
        "localhost",
        "LocalHost",
        "::ffff:127.0.0.1",
    ],
)
def test_every_spelling_of_loopback_is_loopback(host: str) -> None:
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["128.0.0.1", "10.0.0.1", "::2", "localhost.attacker.example", "127.1", ""])
def test_other_addresses_and_names_are_not(host: str) -> None:
    assert not is_loopback(host)


def test_wildcards_are_unspecified() -> None:
    assert is_unspecified("0.0.0.0")  # noqa: S104 - a value under test, nothing binds it
    assert is_unspecified("::")
    assert not is_unspecified("127.0.0.1")


@pytest.mark.parametrize("bind", ["127.0.0.1", "127.0.0.2", "::1", "0:0:0:0:0:0:0:1", "localhost"])
@pytest.mark.parametrize(
    ("host", "allowed"),
    [
        ("127.0.0.1:8765", True),
        ("127.0.0.2:8765", True),
        ("[::1]:8765", True),
        ("[0:0:0:0:0:0:0:1]:8765", True),
        ("LOCALHOST:8765", True),
        ("localhost", True),
        ("attacker.example:8765", False),
        ("Attacker.Example", False),
        ("localhost.attacker.example:8765", False),
        ("127.0.0.1.attacker.example:8765", False),
        ("::1:8765", False),  # an IPv6 address without brackets is no Host
        ("[::1", False),
        ("127.0.0.1:*", False),
        ("127.0.0.1:80x", False),
        ("", False),
        (None, False),
    ],
)
def test_on_a_loopback_bind_only_this_machine_is_a_host(bind: str, host: str | None, allowed: bool) -> None:
    assert rules_for(bind, [], []).host_allowed(host) is allowed


def test_a_named_bind_allows_its_address_and_listed_names_in_any_case() -> None:
    rules = rules_for("192.168.1.5", ["Runbridge.LAN:*", "exact.example:8765"], [])
    assert rules.host_allowed("192.168.1.5:8765")
    assert rules.host_allowed("runbridge.lan:1")
    assert rules.host_allowed("EXACT.example:8765")
    assert not rules.host_allowed("exact.example:8766")
    assert not rules.host_allowed("exact.example")
    assert not rules.host_allowed("other.example:8765")


def test_a_wildcard_bind_checks_host_only_when_names_are_listed() -> None:
    assert rules_for("0.0.0.0", [], []).host_allowed("anything.example:1")  # noqa: S104
    listed = rules_for("::", ["runbridge.lan:*"], [])
    assert listed.host_allowed("runbridge.lan:8765")
    assert not listed.host_allowed("anything.example:8765")


@pytest.mark.parametrize(
    ("origin", "allowed", "cors"),
    [
        (None, True, False),
        ("https://app.example", True, True),
        ("HTTPS://APP.EXAMPLE", True, True),
        ("https://app.example:443", False, False),
        ("http://app.example", False, False),
        ("http://localhost:5173", True, True),
        ("http://localhost", True, True),
        ("http://127.0.0.2:3000", True, False),  # a page on this machine may call in, but gets no CORS grant
        ("http://[0:0:0:0:0:0:0:1]:3000", True, False),
        ("http://attacker.example", False, False),
        ("null", False, False),
        ("file://", False, False),
        ("https://app.example/path", False, False),
    ],
)
def test_origins(origin: str | None, allowed: bool, cors: bool) -> None:
    rules = rules_for("127.0.0.1", [], ["https://app.example/", "http://localhost:*"])
    assert rules.origin_allowed(origin) is allowed
    assert (origin is not None and rules.listed(origin)) is cors


def test_beyond_loopback_a_page_on_localhost_is_not_this_machine() -> None:
    rules = rules_for("0.0.0.0", [], [])  # noqa: S104
    assert not rules.origin_allowed("http://localhost:3000")
    assert rules.origin_allowed(None)


@pytest.mark.parametrize("entry", ["app.example", "ftp://app.example", "https://", "https://a.example/x"])
def test_an_allow_origin_that_is_not_an_origin_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="--allow-origin"):
        rules_for("127.0.0.1", [], [entry])


@pytest.mark.parametrize("entry", ["a:b:c", "host:port", "[::1"])
def test_an_allow_host_that_cannot_be_read_is_refused(entry: str) -> None:
    with pytest.raises(ValueError, match="--allow-host"):
        rules_for("127.0.0.1", [entry], [])
