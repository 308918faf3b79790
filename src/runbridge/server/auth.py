"""`serve --http` as an OAuth 2.1 resource server (`[auth]`, `core.auth_config`): the MCP SDK serves the protected
resource metadata (RFC 9728) and answers 401 with a `WWW-Authenticate` header pointing at it; `JwtVerifier` is the
SDK's `TokenVerifier` for bearer JWTs signed by a key in the issuer's JWKS, with the issuer, the audience, the
expiry and the required scopes checked; `ReadOnlyScopes` refuses the tools that change anything to a token without
the write scope.

The user a request acts for is the token's subject at its issuer (`principal_of`); every run, gate and task keeps
who started it.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import TYPE_CHECKING, Any

import anyio
from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.provider import AccessToken
from mcp.server.auth.settings import AuthSettings
from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import INVALID_REQUEST, CallToolResult, TextContent

from ..bridge.users import UserToken, principal_of
from ..core.auth_config import AuthConfig, web_url
from ..core.errors import ConfigError

if TYPE_CHECKING:
    import jwt  # imported when [auth] is set (JwtVerifier): a server without it does not pay for PyJWT's crypto

__all__ = ["JwtVerifier", "ReadOnlyScopes", "auth_settings", "principal_of", "scopes_of"]

log = logging.getLogger("runbridge.auth")
_FETCH_SECONDS = 10.0
_MAX_DOCUMENT = 1_048_576
_TASK_WRITES = ("tasks/update", "tasks/cancel")


def auth_settings(config: AuthConfig) -> AuthSettings:
    """What the SDK needs to serve the metadata and require a token (the audience is `JwtVerifier`'s to check)."""
    return AuthSettings(
        issuer_url=config.issuer,  # pyright: ignore[reportArgumentType]
        resource_server_url=config.resource_url,  # pyright: ignore[reportArgumentType]
        required_scopes=list(config.required_scopes) or None,
        validate_token_resource=False,
    )


def scopes_of(token: AccessToken | None) -> frozenset[str] | None:
    return None if token is None else frozenset(token.scopes)


def _fetch_json(url: str) -> Any:
    # Only the issuer's own URLs, or the jwks_uri it names, each https (or http on loopback: `core.auth_config`).
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=_FETCH_SECONDS) as response:  # noqa: S310
        return json.loads(response.read(_MAX_DOCUMENT))


class JwtVerifier:
    """Validates bearer JWTs against the issuer's JWKS (fetched once, again when a token names an unknown key)."""

    def __init__(self, config: AuthConfig) -> None:
        self._config = config
        self._jwks: jwt.PyJWKClient | None = None
        self._lock = anyio.Lock()

    async def _client(self) -> jwt.PyJWKClient:
        import jwt

        async with self._lock:
            if self._jwks is None:
                url = self._config.jwks_url or await anyio.to_thread.run_sync(self._discover)
                self._jwks = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=int(_FETCH_SECONDS))
            return self._jwks

    def _discover(self) -> str:
        """The issuer's `jwks_uri`, from its authorization server metadata (RFC 8414), else OpenID discovery."""
        base = self._config.issuer.rstrip("/")
        for suffix in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
            try:
                document = _fetch_json(base + suffix)
            except (OSError, ValueError):
                continue
            if isinstance(document, dict) and isinstance(document.get("jwks_uri"), str):
                try:
                    return web_url(str(document["jwks_uri"]))  # pyright: ignore[reportUnknownArgumentType]
                except ValueError:
                    break
        raise ConfigError(
            f"The issuer {base} publishes no jwks_uri in its metadata: set jwks_url in [auth] of runbridge.toml."
        )

    async def verify_token(self, token: str) -> AccessToken | None:
        import jwt

        try:
            client = await self._client()
            key = await anyio.to_thread.run_sync(client.get_signing_key_from_jwt, token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key.key,
                algorithms=list(self._config.algorithms),
                audience=self._config.audience,
                issuer=self._config.issuer,
                leeway=self._config.leeway_seconds,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except (jwt.PyJWTError, ConfigError, OSError) as exc:
            log.info("bearer token refused: %s", exc.__class__.__name__)
            return None
        scopes = _scopes(claims)
        return UserToken(
            token=token,
            client_id=str(claims.get("client_id") or claims.get("azp") or claims["sub"]),
            scopes=scopes,
            expires_at=int(claims["exp"]),
            resource=self._config.resource_url,
            subject=str(claims["sub"]),
            claims={"iss": claims["iss"]},
            operator=self._config.operator_scope is not None and self._config.operator_scope in scopes,
        )


def _scopes(claims: dict[str, Any]) -> list[str]:
    """`scope` (RFC 9068: space-separated), else `scp` (a list, as some issuers write it)."""
    raw = claims.get("scope", claims.get("scp", ""))
    if isinstance(raw, str):
        return raw.split()
    if isinstance(raw, list):
        return [str(item) for item in raw]  # pyright: ignore[reportUnknownVariableType]
    return []


class ReadOnlyScopes:
    """Server middleware: a token without the write scope calls only the read-only tools; any other is a tool error
    saying which scope it lacks, and answering (`tasks/update`) or cancelling a task is refused (nothing is
    changed)."""

    def __init__(self, write_scope: str, read_only_tools: frozenset[str]) -> None:
        self._scope = write_scope
        self._read_only = read_only_tools

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        if ctx.method not in ("tools/call", *_TASK_WRITES):
            return await call_next(ctx)
        scopes = scopes_of(get_access_token())
        if scopes is None or self._scope in scopes:
            return await call_next(ctx)
        if ctx.method in _TASK_WRITES:  # answering or cancelling a task changes its run
            raise MCPError(
                code=INVALID_REQUEST,
                message=f"{ctx.method} changes a run, and this token is read-only: it lacks the {self._scope!r} scope.",
            )
        name = (ctx.params or {}).get("name")
        if name in self._read_only:
            return await call_next(ctx)
        text = (
            f"{name} changes something, and this token is read-only: it lacks the {self._scope!r} scope. "
            "Ask your identity provider for a token with that scope, or use a read-only tool."
        )
        return CallToolResult(content=[TextContent(type="text", text=text)], is_error=True)
