"""A host's refusal to fork a run, told apart from an unknown run and phrased so the caller knows what to do instead
(reference §5a, §7.1).

Fork is capability-gated: hosts without it answer 404 (no such route), 405 (the path matched the run's own route),
501 (`not_implemented`) or, in v2, 422 `capability_not_provided`. Discovery is only a hint: fork worked on a host
whose discovery denied it, so the call is always tried and only the answer decides.
"""

from __future__ import annotations

from ...core.errors import BackendError, UnsupportedError, sentences

__all__ = ["REFUSING_CODES", "fork_refused", "may_be_refusal"]

REFUSING_CODES = frozenset({"capability_not_provided", "not_implemented", "unsupported", "fork_unsupported"})


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
