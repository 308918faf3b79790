"""Ids inside URL paths: one id is one path segment, whatever characters it holds.

Ids come from tool arguments (a model, a prompt it read) and from backends. Put in a path as they are, `/`, `?`,
`#` and dot segments would steer the request, with the profile's credential, to another endpoint (`run/cancel#`
makes a fork request cancel a run; `../../admin` leaves the API), and control characters would break the URL.
"""

from __future__ import annotations

from urllib.parse import quote

__all__ = ["segment"]


def segment(value: str) -> str:
    """`value` percent-encoded as one path segment (`.` and `..` too, which URL normalisation would remove)."""
    encoded = quote(value, safe="", errors="surrogatepass")
    return encoded.replace(".", "%2E") if encoded in (".", "..") else encoded
