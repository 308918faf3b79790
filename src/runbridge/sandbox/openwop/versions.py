"""Which OpenWOP protocol versions a sandbox host serves (docs/backends/openwop.md: v1 `/v1/...` paths; v2 bare paths
with an `OpenWOP-Version: 2.0` header on every request, unknown majors refused with 406 `protocol_version_unsupported`).

`VersionRouter` is the outermost layer of the OpenWOP app: a v2 request is routed to the same handlers as its v1
twin (its path gets the `/v1` prefix, and `scope["openwop_version"]` says 2, so handlers write v2 links and poll
answers); a request for a version the host does not serve is refused the way such a host refuses it.
"""

from __future__ import annotations

from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from ..middleware import ADMIN_PREFIX
from .envelope import error
from .variants import HostVariant

__all__ = ["SCOPE_KEY", "VersionRouter", "discovery_versions", "v1_path", "wire_version"]

SCOPE_KEY = "openwop_version"
DISCOVERY = "/.well-known/openwop"


def wire_version(scope: Any) -> int:
    """The protocol major a request was made in (1 unless the router said 2)."""
    return 2 if scope.get(SCOPE_KEY) == 2 else 1


def v1_path(scope: Any, path: str) -> str:
    """`path` (written `/v1/...`) as the request's version spells it."""
    return path.removeprefix("/v1") if wire_version(scope) == 2 else path


def discovery_versions(variant: HostVariant) -> dict[str, Any]:
    """The version keys of the discovery document: a v1-only host says `protocolVersion` (as the 1.x clients read
    it); a host serving v2 also lists `protocolVersions` with its `preferredVersion` (the v2 document's keys)."""
    versions = list(variant.protocol_versions)
    out: dict[str, Any] = {}
    if "1.0" in versions:
        out["protocolVersion"] = "1.0"
    if "2.0" in versions:
        out["protocolVersions"] = versions
        out["preferredVersion"] = versions[-1]
    return out


def _major(raw: bytes) -> int | None:
    head = raw.decode("latin-1").strip().split(".", 1)[0]
    return int(head) if head.isdigit() else None


class VersionRouter:
    """Pure ASGI middleware: v2 requests onto the v1 routes, or the refusal of a host that lacks the version."""

    def __init__(self, app: ASGIApp, *, variant: HostVariant) -> None:
        self.app = app
        self.v1 = "1.0" in variant.protocol_versions
        self.v2 = "2.0" in variant.protocol_versions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = str(scope.get("path", ""))
        if scope["type"] != "http" or path == DISCOVERY or path.startswith(ADMIN_PREFIX):
            await self.app(scope, receive, send)
            return
        if path.startswith("/v1/"):
            if not self.v1:
                response = error(404, "not_found", "This host serves OpenWOP 2.0 only: there are no /v1 paths.")
                await response(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if not self.v2:  # the v1 guard answers unversioned paths (400)
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if _major(headers.get(b"openwop-version", b"")) != 2:
            given = headers.get(b"openwop-version", b"").decode("latin-1") or "none"
            response = error(
                406,
                "protocol_version_unsupported",
                f"OpenWOP-Version {given} is not supported on these paths; send OpenWOP-Version: 2.0.",
                {"supported": ["2.0"]},
            )
            await response(scope, receive, send)
            return
        inner = "/v1" + path
        await self.app({**scope, "path": inner, "raw_path": inner.encode(), SCOPE_KEY: 2}, receive, send)
