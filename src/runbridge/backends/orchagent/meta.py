"""`GET /meta` (docs/backends/orchagent.md): what an orchagent server says about itself, read for `runbridge doctor`.

The orchagent SDK and CLI read it without a token; its shape is an object, of which the CLI reads `deprecations`
(strings, or objects with `name`/`feature`, `message` and `sunset`/`sunset_date`) and prints the rest whole."""

from __future__ import annotations

from typing import Any

from ...core.models import HostInfo

__all__ = ["host_info_from_meta", "meta_refused"]

_MAX_NOTES = 5


def meta_refused(status: int | None) -> HostInfo:
    """The host refused `GET /meta`. A 4xx means the address is not an orchagent server (or not its root): every
    orchagent server answers it, without a sign-in. A 5xx is a server failing, which says nothing of what it is."""
    answer = f"HTTP {status}" if status else "an error"
    foreign = status is not None and 400 <= status < 500
    return HostInfo(
        note=f"GET /meta answered {answer}",
        foreign=f"GET /meta, which every orchagent server answers, got {answer}" if foreign else None,
    )


def host_info_from_meta(doc: Any) -> HostInfo:
    """The host's name, version and deprecations from its `/meta` document."""
    if not isinstance(doc, dict):
        return HostInfo(
            note="GET /meta did not answer with a JSON object",
            foreign="GET /meta did not answer with a JSON object, as an orchagent server does",
        )
    named = [str(doc[key]) for key in ("name", "version") if isinstance(doc.get(key), str | int | float)]
    raw = doc.get("deprecations")
    items: list[Any] = raw if isinstance(raw, list) else []  # type: ignore[assignment]
    notes = [note for note in (_deprecation(item) for item in items[:_MAX_NOTES]) if note]
    if len(items) > _MAX_NOTES:
        notes.append(f"and {len(items) - _MAX_NOTES} more")
    return HostInfo(available=True, server=" ".join(named) or None, deprecations=notes)


def _deprecation(item: Any) -> str:
    if isinstance(item, str):
        return item.strip()
    if not isinstance(item, dict):
        return ""
    name = item.get("name") or item.get("feature") or ""
    message = item.get("message") or ""
    sunset = item.get("sunset") or item.get("sunset_date")
    text = ": ".join(str(part).strip().removesuffix(".") for part in (name, message) if part)
    return f"{text} (until {sunset})" if sunset and text else text
