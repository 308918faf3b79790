"""A backend served over TLS: its certificate is checked against the trust store every backend client shares, an
authority of one's own is trusted through `$SSL_CERT_FILE`, and an untrusted certificate is a clear error, at once.

The backend here is uvicorn over real TLS, with a certificate from a throwaway authority (trustme)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import trustme
import uvicorn
from tests.ports import free_port

from runbridge.core.config import Profile
from runbridge.core.errors import TransportError
from runbridge.http.client import HttpClient
from runbridge.http.credentials import Secret
from runbridge.http.tls import shared_tls_context

pytestmark = pytest.mark.anyio


@dataclass
class TlsBackend:
    base_url: str
    authority: Path  # the authority's certificate (PEM)
    requests: list[str]


@pytest.fixture(scope="module")
def tls_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsBackend]:
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    served = ca.issue_cert("localhost")
    key, chain, authority = folder / "key.pem", folder / "chain.pem", folder / "authority.pem"
    served.private_key_pem.write_to_path(str(key))
    served.private_key_and_cert_chain_pem.write_to_path(str(chain))
    ca.cert_pem.write_to_path(str(authority))
    requests: list[str] = []

    async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        requests.append(scope["path"])
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b'{"hello": "over tls"}'})

    port = free_port("127.0.0.1")
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", ssl_keyfile=str(key), ssl_certfile=str(chain)
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "the TLS backend did not start"
        time.sleep(0.02)  # polls a condition, bounded by the deadline
    try:
        yield TlsBackend(f"https://localhost:{port}", authority, requests)
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def fresh_trust_store() -> Iterator[None]:
    """The shared TLS context is read once per process: each test reads it again, under its own environment."""
    shared_tls_context.cache_clear()
    yield
    shared_tls_context.cache_clear()


def _client(backend: TlsBackend) -> HttpClient:
    profile = Profile(name="tls", family="openwop", base_url=backend.base_url)
    return HttpClient(profile, secret=Secret("", "none"))


async def test_a_backend_signed_by_an_authority_named_in_ssl_cert_file_is_trusted(
    tls_backend: TlsBackend, fresh_trust_store: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_backend.authority))
    client = _client(tls_backend)
    try:
        assert await client.json("GET", "/hello", action="say hello") == {"hello": "over tls"}
    finally:
        await client.aclose()
    assert tls_backend.requests[-1:] == ["/hello"]


async def test_an_untrusted_certificate_is_refused_at_once_saying_how_to_trust_it(
    tls_backend: TlsBackend, fresh_trust_store: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)
    seen = len(tls_backend.requests)
    client = _client(tls_backend)
    try:
        with caplog.at_level(logging.INFO, logger="runbridge.http"), pytest.raises(TransportError) as caught:
            await client.json("GET", "/hello", action="say hello")
    finally:
        await client.aclose()
    message = str(caught.value)
    assert f"the TLS certificate of {tls_backend.base_url} is not trusted" in message, message
    assert "unable to get local issuer certificate" in message, message  # OpenSSL's reason, as it gave it
    assert "$SSL_CERT_FILE" in message, message
    assert "not reachable" not in message, message
    assert len(tls_backend.requests) == seen  # nothing reached the backend's application
    assert not [r for r in caplog.records if "retrying" in r.getMessage()]  # the same certificate would be met
