"""Token files: a credential kept in a private file, as the bare token or as JSON with `access_token` (the format
orchagent's SDK and `runbridge login` write) or `api_key`.

One reader for every family and one parser shared with the secret policy, so that what counts as a token, and what
each problem is called, is the same everywhere.
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from .errors import ConfigError

__all__ = ["WHAT_TO_WRITE", "read_token_file", "tokens_in"]

WHAT_TO_WRITE = "Write the bare token, or JSON with access_token, into it (mode 0600), or fix token_file."

_KEYS = ("access_token", "api_key")


def tokens_in(text: str) -> list[str]:
    """The credentials a token file's text holds, in order of preference; a `ValueError` when it starts with `{`
    but is not JSON."""
    text = text.strip()
    if not text.startswith("{"):
        return [text] if text else []
    doc: Any = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(doc, dict):
        return []
    values = (doc.get(key) for key in _KEYS)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    return [value.strip() for value in values if isinstance(value, str) and value.strip()]


def read_token_file(path: Path, *, hint: str = WHAT_TO_WRITE) -> str:
    """The token `path` holds. A file that is missing, readable by others, not JSON though it looks like it, or
    holds no token is a `ConfigError` naming the file and ending with `hint` (what to do about it); the file's
    content is never quoted."""
    try:
        mode = path.stat().st_mode
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"The token file {path} does not exist. {hint}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"The token file {path} cannot be read ({exc.__class__.__name__}).") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(f"The token file {path} is readable by others; run `chmod 600 {path}`.")
    try:
        tokens = tokens_in(raw)
    except ValueError:
        raise ConfigError(f"The token file {path} starts with '{{' but is not valid JSON. {hint}") from None
    if not tokens:
        raise ConfigError(f"The token file {path} holds no token (empty, or logged out). {hint}")
    return tokens[0]
