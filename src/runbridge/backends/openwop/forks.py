"""A host's refusal to fork a run, told apart from an unknown run and phrased so the caller knows what to do instead
(docs/backends/openwop.md).

Fork is capability-gated: hosts without it answer 404 (no such route), 405 (the path matched the run's own route),
501 (`not_implemented`) or, in v2, 422 `capability_not_provided`. Discovery is only a hint: fork worked on a host
whose discovery denied it, so the call is always tried and only the answer decides.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ...core.errors import BackendError, InputError, UnsupportedError, sentences
from .stream import poll_page

__all__ = ["REFUSING_CODES", "fork_refused", "last_seq", "may_be_refusal", "needs_seq"]

REFUSING_CODES = frozenset({"capability_not_provided", "not_implemented", "unsupported", "fork_unsupported"})


def needs_seq(exc: BackendError) -> bool:
    """Whether the answer to a fork without `fromSeq` says this host needs one (a 400/422 naming `fromSeq`)."""
    return exc.status in (400, 422) and "fromseq" in f"{exc.code} {exc.message}".lower().replace("_", "")


async def last_seq(call: Callable[..., Awaitable[Any]], run_id: str, *, v2: bool) -> int:
    """The sequence of the run's last event (read through the poll endpoint, page after page): where a fork "from
    the end" starts on a host that needs a sequence."""
    last: int | None = None
    while True:
        events, complete = await poll_page(call, run_id, last, v2=v2, wait_seconds=1)
        seqs = [e.seq for e in events if e.seq is not None]
        if not seqs:
            break
        last = max(seqs)
        if complete:
            break
    if last is None:
        raise InputError("This host forks a run only from a given event, and the run has none yet: pass from_seq.")
    return last


def may_be_refusal(exc: BackendError) -> bool:
    """Whether this error answer to a fork may mean "this host does not fork" (a 404 may also mean the run is
    unknown: the caller checks the run before saying so)."""
    if exc.code == "run_not_found":
        return False
    return exc.status in (404, 405, 501) or exc.code in REFUSING_CODES


def fork_refused(exc: BackendError, *, run_id: str, discovery_says: bool | None) -> UnsupportedError:
    """The tool error for a refused fork: what happened, that the source run is untouched, what to do instead."""
    answer = f"HTTP {exc.status}, {exc.code}" if exc.code else f"HTTP {exc.status}"
    if discovery_says is False:
        hint = "its discovery document does not advertise fork either"
    elif discovery_says is True:
        hint = "although its discovery document advertises fork"
    else:
        hint = ""
    return UnsupportedError(
        sentences(
            f"This OpenWOP host refused to fork run {run_id}: it does not support forking runs ({answer})",
            hint,
            f"Run {run_id} is unchanged",
            "Do not retry runs_fork on this profile; to run the workflow again, start a new run with runs_start "
            "(same target and inputs)",
        )
    )
