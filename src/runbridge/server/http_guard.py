"""Who may reach `runbridge serve --http` from a browser: the Host and Origin checks that keep a web page out, and
the CORS answers that let in the browser origins the operator named with `--allow-origin`.

A page cannot read another origin's answers, but it can still send it requests; and by DNS rebinding (its own name
made to resolve to 127.0.0.1) its requests even count as same-origin. So on every bind:

- Host must name this machine's loopback (`localhost`, or any spelling of an address in 127.0.0.0/8 or of ::1, with
  any port), the address runbridge is bound to, or a name given with `--allow-host`. A rebinding page sends its own
  name, which is refused (421). Only a wildcard bind (0.0.0.0, ::) without `--allow-host` skips this: it is reached
  by names it cannot know, and there the bearer token, always required, keeps pages out.
- Origin, when a browser sends one, must be one given with `--allow-origin`, or, on a loopback bind, a page served
  from this machine's loopback; any other (including `null`) is refused (403).

Names are compared case-insensitively and addresses by value (`0:0:0:0:0:0:0:1` is `::1`), so no spelling slips
through. These checks replace the MCP SDK's own, which know only the three names 127.0.0.1, localhost and ::1.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["OriginGuard", "Rules", "is_loopback", "is_unspecified", "rules_for"]

# What a browser client may send besides the CORS-safelisted headers, and what it may read of the answers.
_ALLOW_HEADERS = ("content-type", "accept", "authorization", "mcp-session-id", "mcp-protocol-version", "last-event-id")
_EXPOSE_HEADERS = b"Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate"
_ALLOW_METHODS = b"GET, POST, DELETE, OPTIONS"
_PREFLIGHT_MAX_AGE = b"600"


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    return address


def is_unspecified(host: str) -> bool:
    """`0.0.0.0`, `::` and the like: every interface of the machine."""
    address = _address(host)
    return host == "" if address is None else address.is_unspecified


def is_loopback(host: str) -> bool:
    """`localhost` or any address in 127.0.0.0/8 or ::1, however it is spelt."""
    if host.lower() == "localhost":
        return True
    address = _address(host)
    return address is not None and address.is_loopback


def _canonical(host: str) -> str:
    address = _address(host)
    return host.lower() if address is None else str(address)


@dataclass(frozen=True)
class _Authority:
    host: str  # canonical: lower case, an address in its one spelling
    port: str | None  # digits, "*" (patterns only), or None when absent


def _authority(text: str) -> _Authority | None:
    """`name`, `name:port`, `v4:port`, `[v6]` or `[v6]:port` (a Host header or the part of an Origin after `//`)."""
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (end + 1 < len(text) and text[end + 1] != ":"):
            return None
        host, port = text[1:end], text[end + 2 :] if end + 1 < len(text) else None
        if _address(host) is None:
            return None
    elif text.count(":") > 1:
        return None  # an IPv6 address without brackets is no valid Host
    else:
        host, _, port_text = text.partition(":")
        port = port_text if ":" in text else None
    if not host or (port is not None and not (port.isdigit() or port == "*")):
        return None
    return _Authority(_canonical(host), port)


def _origin(text: str) -> tuple[str, _Authority] | None:
    scheme, sep, rest = text.strip().partition("://")
    if not sep or "/" in rest or scheme.lower() not in ("http", "https"):
        return None
    authority = _authority(rest)
    return None if authority is None else (scheme.lower(), authority)


def _port_fits(pattern: str | None, port: str | None) -> bool:
    return pattern == "*" or pattern == port


@dataclass(frozen=True)
class Rules:
    check_host: bool
    hosts: tuple[_Authority, ...]  # besides this machine's loopback names and addresses
    loopback_origins: bool  # a page served from this machine's loopback may call in
    origins: tuple[tuple[str, _Authority], ...]  # the --allow-origin list: these also get CORS answers

    def host_allowed(self, value: str | None) -> bool:
        if not self.check_host:
            return True
        given = _authority(value or "")
        if given is None or given.port == "*":
            return False
        if is_loopback(given.host):
            return True
        return any(given.host == rule.host and _port_fits(rule.port, given.port) for rule in self.hosts)

    def listed(self, value: str) -> bool:
        given = _origin(value)
        if given is None or given[1].port == "*":
            return False
        scheme, at = given
        return any(scheme == s and at.host == rule.host and _port_fits(rule.port, at.port) for s, rule in self.origins)

    def origin_allowed(self, value: str | None) -> bool:
        if value is None:
            return True  # not a browser, or a same-origin navigation: the Host check covers it
        if self.listed(value):
            return True
        given = _origin(value)
        return self.loopback_origins and given is not None and is_loopback(given[1].host)


def _patterns(entries: Iterable[str], what: str) -> list[_Authority]:
    found: list[_Authority] = []
    for entry in entries:
        parsed = _authority(entry)
        if parsed is None:
            raise ValueError(f"{what} {entry!r} is not NAME, NAME:PORT or NAME:* (IPv6 in brackets)")
        found.append(parsed)
    return found


def rules_for(bind: str, allowed_hosts: Iterable[str], allowed_origins: Iterable[str]) -> Rules:
    """The checks for a server bound to `bind`. Raises ValueError naming an entry that cannot be read."""
    hosts = _patterns(allowed_hosts, "--allow-host")
    origins: list[tuple[str, _Authority]] = []
    for entry in allowed_origins:
        parsed = _origin(entry.removesuffix("/"))  # as often written; a browser sends none
        if parsed is None:
            raise ValueError(f"--allow-origin {entry!r} is not an origin like https://app.example or http://host:*")
        origins.append(parsed)
    wildcard = is_unspecified(bind)
    if not wildcard:
        hosts.append(_Authority(_canonical(bind), "*"))  # the bound address itself, by any port
    return Rules(
        check_host=not wildcard or bool(hosts),
        hosts=tuple(hosts),
        loopback_origins=is_loopback(bind),
        origins=tuple(origins),
    )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": message}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class OriginGuard:
    """Refuse a foreign Host (421) or Origin (403) before anything else sees the request; answer the CORS preflight
    of a listed origin, and mark every answer to one so that its page may read it (the session id included)."""

    def __init__(self, app: ASGIApp, rules: Rules) -> None:
        self.app = app
        self.rules = rules

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.rules.host_allowed(_header(scope, b"host")):
            await _refuse(send, 421, "This server does not answer to that Host (DNS rebinding protection).")
            return
        origin = _header(scope, b"origin")
        if not self.rules.origin_allowed(origin):
            await _refuse(send, 403, "Requests from that Origin are not allowed; see `runbridge serve --allow-origin`.")
            return
        cors = origin is not None and self.rules.listed(origin)
        if scope["method"] == "OPTIONS" and origin is not None and _header(scope, b"access-control-request-method"):
            await self._preflight(scope, send, origin if cors else None)
            return
        if not cors:
            await self.app(scope, receive, send)
            return
        assert origin is not None
        marks = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-expose-headers", _EXPOSE_HEADERS),
            (b"vary", b"Origin"),
        ]

        async def marked(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *marks]}
            await send(message)

        await self.app(scope, receive, marked)

    async def _preflight(self, scope: Scope, send: Send, origin: str | None) -> None:
        if origin is None:  # a page from an origin that may call in but was not listed: no CORS for it
            await _refuse(send, 403, "Cross-origin requests from that Origin are not allowed.")
            return
        asked = (_header(scope, b"access-control-request-headers") or "").lower()
        wanted = [name.strip() for name in asked.split(",") if name.strip()]
        # The MCP headers a client adds (mcp-method, mcp-name, mcp-param-*) vary with the protocol; allow the family.
        allowed = [
            *_ALLOW_HEADERS,
            *(name for name in wanted if name.startswith("mcp-") and name not in _ALLOW_HEADERS),
        ]
        headers: list[tuple[bytes, bytes]] = [
            (b"access-control-allow-origin", origin.encode("latin-1")),
            (b"access-control-allow-methods", _ALLOW_METHODS),
            (b"access-control-allow-headers", ", ".join(allowed).encode("latin-1")),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE),
            (b"vary", b"Origin, Access-Control-Request-Headers"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
