"""Signed interrupt tokens (docs/backends/openwop.md): `base64url(JSON claims) + "." + base64url(HMAC-SHA256)`.

The claims are `{runId, nodeId, interruptId, expiresAt, intent}` with `intent` `resolve` or `inspect`. Anyone who
holds the token may inspect or resolve the one interrupt it names, without a bearer key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

__all__ = ["TokenClaims", "TokenExpired", "TokenInvalid", "TokenSigner"]

Intent = Literal["resolve", "inspect"]


class TokenInvalid(Exception):
    """The token is garbled or its signature does not match."""


class TokenExpired(Exception):
    """The token's `expiresAt` has passed."""


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token names."""

    run_id: str
    node_id: str
    interrupt_id: str
    expires_at: datetime
    intent: Intent


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class TokenSigner:
    """Mints and checks tokens with one server secret."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._secret, body.encode("ascii"), hashlib.sha256).digest())

    def mint(
        self, *, run_id: str, node_id: str, interrupt_id: str, ttl_seconds: float, intent: Intent = "resolve"
    ) -> str:
        expires = datetime.now(UTC) + timedelta(seconds=ttl_seconds)
        claims = {
            "runId": run_id,
            "nodeId": node_id,
            "interruptId": interrupt_id,
            "expiresAt": expires.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "intent": intent,
        }
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{body}.{self._mac(body)}"

    def verify(self, token: str) -> TokenClaims:
        """The token's claims; TokenInvalid or TokenExpired otherwise."""
        body, dot, mac = token.partition(".")
        if not dot or not hmac.compare_digest(mac, self._mac(body)):
            raise TokenInvalid("The interrupt token is not valid.")
        try:
            raw = json.loads(_unb64(body))
            claims = TokenClaims(
                run_id=str(raw["runId"]),
                node_id=str(raw["nodeId"]),
                interrupt_id=str(raw["interruptId"]),
                expires_at=datetime.fromisoformat(str(raw["expiresAt"]).replace("Z", "+00:00")),
                intent="inspect" if raw.get("intent") == "inspect" else "resolve",
            )
        except (ValueError, KeyError, TypeError):
            raise TokenInvalid("The interrupt token is not valid.") from None
        if claims.expires_at <= datetime.now(UTC):
            raise TokenExpired("The interrupt token has expired.")
        return claims
