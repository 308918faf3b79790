"""`[auth]` in runbridge.toml: `serve --http` as an OAuth 2.1 resource server, each user known by their token.

```toml
[auth]
issuer = "https://id.example.com"            # the authorization server whose tokens are accepted (`iss`)
resource_url = "https://mcp.example.com/mcp"  # this server's MCP endpoint, as clients reach it
audience = "https://mcp.example.com/mcp"      # the token's `aud` (default: resource_url)
# jwks_url = "https://id.example.com/jwks"   # default: the issuer's metadata says (`jwks_uri`)
required_scopes = ["runbridge"]               # every request's token holds all of these
write_scope = "runbridge:write"               # without it a token reaches the read-only tools only
operator_scope = "runbridge:operator"         # with it a token also reaches the runs no user owns
```

A bearer token is a JWT signed by a key in the issuer's JWKS; its issuer, audience, expiry and scopes are checked
on every request (`server.auth`). Absent, `serve --http` knows one shared bearer token (`--token-env`), or none on
loopback.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = ["AuthConfig", "web_url"]

_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


def web_url(value: str) -> str:
    """An https URL, or http on loopback only (a token or a key fetched in clear text anywhere else is not safe)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("takes an https:// URL")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise ValueError("must be https:// (http:// only on this machine's loopback)")
    if parts.query or parts.fragment:
        raise ValueError("takes a URL without a query or a fragment")
    return value


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AuthConfig(BaseModel):
    """How bearer JWTs are validated, and what their scopes allow."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str
    resource_url: str
    audience: str = ""
    jwks_url: str | None = None
    required_scopes: list[str] = Field(default_factory=list)
    write_scope: str | None = None
    operator_scope: str | None = None  # reaches the runs no user owns (started outside runbridge); None: nobody
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1)
    leeway_seconds: int = Field(default=30, ge=0, le=300)  # clock skew allowed on `exp`, `nbf` and `iat`

    @field_validator("issuer", "resource_url")
    @classmethod
    def _urls(cls, value: str) -> str:
        return web_url(value)

    @field_validator("jwks_url")
    @classmethod
    def _jwks(cls, value: str | None) -> str | None:
        return None if value is None else web_url(value)

    @field_validator("required_scopes")
    @classmethod
    def _scopes(cls, value: list[str]) -> list[str]:
        for scope in value:
            if not scope or any(c.isspace() or c == '"' or c == "\\" for c in scope):
                raise ValueError(f"{scope!r} is not a scope (a word without spaces or quotes)")
        return value

    @field_validator("write_scope", "operator_scope")
    @classmethod
    def _write(cls, value: str | None) -> str | None:
        if value is not None and (not value or any(c.isspace() or c == '"' or c == "\\" for c in value)):
            raise ValueError("takes a scope (a word without spaces or quotes)")
        return value

    @field_validator("algorithms")
    @classmethod
    def _algorithms(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(_ALGORITHMS))
        if unknown:
            raise ValueError(f"unknown or unsafe algorithms {unknown}; choose from {list(_ALGORITHMS)}")
        return value

    @model_validator(mode="after")
    def _default_audience(self) -> AuthConfig:
        if not self.audience:
            object.__setattr__(self, "audience", self.resource_url)
        return self
