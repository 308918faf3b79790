"""Logging to stderr (stdout carries the stdio transport), with every known secret scrubbed from every record."""

from __future__ import annotations

import logging
import sys
import threading

__all__ = ["RedactingFilter", "configure_logging", "redact", "register_secret"]

_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str) -> None:
    """Remember a credential so that no log line can carry it (values under 4 characters are not secrets)."""
    if len(value) >= 4:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    for value in _secrets:
        if value in text:
            text = text.replace(value, "***")
    return text


class RedactingFilter(logging.Filter):
    """Formats the record's message once, scrubs it, and freezes it (so arguments cannot re-inject a secret)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if _secrets:
            message = redact(record.getMessage())
            record.msg, record.args = message, None
            if record.exc_info:
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
                record.exc_info = None
        return True


def configure_logging(level: str = "WARNING") -> None:
    """One stderr handler for the whole process, secrets redacted; library chatter kept at warning."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("httpx2", "httpcore2", "httpcore", "uvicorn.access", "mcp"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
