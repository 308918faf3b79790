"""TLS for backend clients: one context shared by all of them, and what an untrusted certificate looks like."""

from __future__ import annotations

import functools
import ssl

import httpx2

from ..core.errors import cause_of

__all__ = ["shared_tls_context", "untrusted_certificate"]


@functools.cache
def shared_tls_context() -> ssl.SSLContext:
    """The TLS context every backend client shares: httpx's default (the system's trust store, or
    `$SSL_CERT_FILE` / `$SSL_CERT_DIR`), read once per process. Reading the trust store costs some 50 ms of CPU, which
    each client would otherwise pay when it is made, and a context is meant to be shared."""
    return httpx2.create_ssl_context()


def untrusted_certificate(exc: BaseException) -> str | None:
    """OpenSSL's reason when a connection failed because the server's certificate was not trusted, else None."""
    refused = cause_of(exc, ssl.SSLCertVerificationError)
    if refused is None:
        return None
    return refused.verify_message or refused.reason or "certificate verify failed"
