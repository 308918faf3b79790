"""The platform's errors that are really preconditions: what the person must do before calling again.

The platform refuses a call it cannot carry out for the caller's own reasons with a code: no credits left
(`INSUFFICIENT_CREDITS`), an agent that needs the caller's LLM key (`LLM_KEY_REQUIRED`), workspace secrets the agent
needs (`MISSING_SECRETS`, naming them), the caller's LLM provider limiting its key (`LLM_RATE_LIMITED`), a paid agent
asked for a download (`PAID_AGENT_SERVER_ONLY`, `DOWNLOAD_DISABLED`). Calling again changes none of them, so they
are never retried and their message says what to do.
"""

from __future__ import annotations

import re

from ...core.config import Profile
from ...core.errors import BackendError, sentences
from .spec import PlatformOptions

__all__ = ["PRECONDITIONS", "explain", "missing_secrets"]

PRECONDITIONS = frozenset(
    {
        "INSUFFICIENT_CREDITS",
        "LLM_KEY_REQUIRED",
        "MISSING_SECRETS",
        "LLM_RATE_LIMITED",
        "PAID_AGENT_SERVER_ONLY",
        "DOWNLOAD_DISABLED",
        "CLI_VERSION_TOO_OLD",
    }
)
_NAME = re.compile(r"\b[A-Z][A-Z0-9_]{1,127}\b")


def missing_secrets(message: str) -> list[str]:
    """The secret names a `MISSING_SECRETS` message lists ("...not found in workspace: A, B.")."""
    _, _, tail = message.rpartition(":")
    return _NAME.findall(tail)


def _advice(code: str, message: str, profile: Profile, options: PlatformOptions) -> str | None:
    name = profile.name
    if code == "INSUFFICIENT_CREDITS":
        return (
            "The workspace has too few credits for this call: a person must add credits on orchagent.io (billing), "
            "then call again"
        )
    if code == "LLM_KEY_REQUIRED":
        if options.llm_credentials is None:
            return (
                "This agent runs on the caller's own LLM key: a person must name it in profile "
                f"{name!r} (options.llm_credentials: provider and api_key_env, the environment variable holding the "
                "key); it is never passed in a tool call"
            )
        return (
            f"Profile {name!r} names its LLM key in ${options.llm_credentials.api_key_env}, which is empty or was "
            "refused: a person must put a valid key there"
        )
    if code == "MISSING_SECRETS":
        names = missing_secrets(message)
        listed = ", ".join(names) if names else "the secrets it names"
        return (
            f"The agent needs workspace secrets that are not set ({listed}): a person must add them to the workspace "
            "on orchagent.io, then call again"
        )
    if code == "LLM_RATE_LIMITED":
        return (
            "The LLM provider is limiting the key sent with the call (not orchagent.io): wait a while before calling "
            "again, or a person names another key in the profile's options.llm_credentials"
        )
    if code == "PAID_AGENT_SERVER_ONLY":
        return "A paid agent runs only on orchagent.io: it cannot be downloaded; call it with agents_call instead"
    if code == "DOWNLOAD_DISABLED":
        return "Its author does not allow downloading this agent; call it with agents_call instead"
    if code == "CLI_VERSION_TOO_OLD":
        return "orchagent.io refuses this client version; runbridge must be updated"
    return None


def explain(error: BackendError, profile: Profile, options: PlatformOptions) -> BackendError:
    """`error` with what the person must do, when its code is a precondition (and never retryable then)."""
    code = error.code or ""
    if code not in PRECONDITIONS:
        return error
    advice = _advice(code, error.message, profile, options)
    if advice and advice not in error.message:
        error.message = sentences(error.message, advice)
    error.retryable = False
    return error
