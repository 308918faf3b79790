"""A test authorization server for `[auth]`: one RSA key, its JWKS (`/jwks`) and its RFC 8414 metadata
(`/.well-known/oauth-authorization-server`) served on loopback by a thread of this process, and tokens it signs.
A runbridge in this process or in another one (the replicas behind a load balancer) validates them alike."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

__all__ = ["WRITE", "Issuer", "issuer_on_loopback", "stranger_key"]

WRITE = "runbridge:write"


def stranger_key() -> Any:
    """A key the issuer never published: a token signed with it is wrongly signed."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    """The issuer at `url`, signing with its one key (kid `k1`); its tokens name `audience` unless told otherwise
    (the resource they are for: runbridge's `[auth] audience`)."""

    def __init__(self, url: str, key: Any, audience: str) -> None:
        self.url = url
        self.key = key
        self.audience = audience

    def token(self, sub: str, *, scope: str = WRITE, aud: str | None = None, ttl: int = 600, key: Any = None) -> str:
        """A bearer JWT for `sub` with these scopes and audience, expiring `ttl` seconds from now (negative: expired
        that long ago), signed by this issuer's key unless `key` says otherwise."""
        now = int(time.time())
        claims = {
            "iss": self.url,
            "sub": sub,
            "aud": aud or self.audience,
            "iat": now,
            "exp": now + ttl,
            "scope": scope,
        }
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": "k1"})


@contextmanager
def issuer_on_loopback(audience: str = "") -> Iterator[Issuer]:
    """An `Issuer` serving its metadata and JWKS on 127.0.0.1 (an ephemeral port) until the block ends."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
    jwks = json.dumps({"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()
    documents: dict[str, bytes] = {"/jwks": jwks}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path.split("?", 1)[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    url = f"http://127.0.0.1:{server.server_address[1]}"
    metadata = {"issuer": url, "jwks_uri": url + "/jwks"}
    documents["/.well-known/oauth-authorization-server"] = json.dumps(metadata).encode()
    thread = threading.Thread(target=server.serve_forever, name="test-issuer", daemon=True)
    thread.start()
    try:
        yield Issuer(url, key, audience)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
