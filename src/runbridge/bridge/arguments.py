"""Arguments that do not fit a tool's input schema: one curated sentence per field for the model, instead of the
validation library's report (its model class names, input types and documentation links). Also what no schema
says: values no backend, file system or store can take (`unusable_argument`), and the bound on every tool error a
client receives (`InvalidArguments` caps them, whichever path they came from)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

from ..core.errors import MAX_MESSAGE_CHARS, bounded

__all__ = ["InvalidArguments", "describe_invalid", "unusable_argument"]

_MAX_FIELDS = 5
# Beyond 2^53 - 1 a JSON integer is not carried exactly by JavaScript hosts and backends, and a 64-bit store refuses
# far smaller numbers than 10^30: such a number is refused here, by name, rather than failing somewhere deeper.
_MAX_SAFE_INTEGER = 2**53 - 1

Validator = Callable[[dict[str, Any]], Any]


def describe_invalid(tool: str, exc: ValidationError) -> str:
    """What is wrong with the arguments of `tool`, field by field; never the rejected values (the caller's data, and
    possibly huge)."""
    problems: list[str] = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False)[:_MAX_FIELDS]:
        where = ".".join(str(part) for part in error["loc"]) or "arguments"
        message = "required, but missing" if error["type"] == "missing" else error["msg"]
        message = message.replace("a valid dictionary", "a JSON object")
        problems.append(f"`{where}`: {message[:1].lower()}{message[1:]}")
    more = exc.error_count() - len(problems)
    if more > 0:
        problems.append(f"and {more} more")
    return (
        f"Invalid arguments for {tool}: {'; '.join(problems)}. Nothing was done: correct them as the tool's input "
        "schema says and call it again."
    )


def unusable_argument(tool: str, arguments: Mapping[str, Any]) -> str | None:
    """Why an argument cannot be used whatever the tool (a NUL byte or an unpaired surrogate in a string or key, an
    integer outside +/-(2^53 - 1), a number that is not finite), naming where it is but never its value; else
    None. A NUL byte cannot be part of a path, an id or a header, and an unpaired surrogate cannot be encoded to
    send: left in, they fail deep inside a library with a stack trace instead of a sentence the model can act on."""
    pending: list[tuple[str, Any]] = [(name, value) for name, value in arguments.items()]
    while pending:
        where, value = pending.pop()
        problem = _problem(value)
        if problem is None and isinstance(value, Mapping):
            for key, item in value.items():  # type: ignore[reportUnknownVariableType]
                problem = _problem(key)
                if problem is not None:
                    problem = f"has a key that {problem}"
                    break
                pending.append((f"{where}.{key}", item))
        elif problem is None and isinstance(value, list | tuple):
            pending.extend((f"{where}[{i}]", item) for i, item in enumerate(value))  # type: ignore[reportUnknownArgumentType]
        if problem is not None:
            return f"The argument `{bounded(where, 80)}` {problem}. Nothing was done: correct it and call {tool} again."
    return None


def _problem(value: Any) -> str | None:
    if isinstance(value, str):
        if "\x00" in value:
            return "holds a NUL byte (\\x00), which no id, path, name or text sent on can carry"
        if any("\ud800" <= ch <= "\udfff" for ch in value):
            return "holds an unpaired UTF-16 surrogate, which is not text that can be sent on"
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int) and abs(value) > _MAX_SAFE_INTEGER:
        return f"is too large a number: integers must lie within +/-{_MAX_SAFE_INTEGER} (2^53 - 1)"
    elif isinstance(value, float) and not math.isfinite(value):
        return "is not a finite number"
    return None


class InvalidArguments:
    """Server middleware: a `tools/call` refused for its arguments gets a message from `describe_invalid`, and
    every error it passes on (a tool error, or a protocol error of any request) is bounded (`core.errors.bounded`).

    `validator(name)` gives a tool's argument check (None for an unknown tool). It runs again only for a call that
    already failed, so a call that succeeds costs nothing more."""

    def __init__(self, validator: Callable[[str], Validator | None]) -> None:
        self._validator = validator

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        try:
            result = await call_next(ctx)
        except MCPError as exc:  # a protocol error (unknown resource, bad params) may echo what the client sent
            if len(exc.message) <= MAX_MESSAGE_CHARS:
                raise
            raise MCPError(code=exc.code, message=bounded(exc.message), data=exc.data) from None
        if ctx.method != "tools/call" or not _is_error(result):
            return result
        return _bounded(self._curated(ctx, result))

    def _curated(self, ctx: ServerRequestContext[Any, Any], result: HandlerResult) -> HandlerResult:
        params = ctx.params or {}
        name, arguments = params.get("name"), params.get("arguments") or {}
        validate = self._validator(name) if isinstance(name, str) else None
        if validate is None or not isinstance(arguments, dict):
            return result
        try:
            validate(arguments)  # type: ignore[arg-type]
        except ValidationError as exc:
            assert isinstance(name, str)
            return _with_text(result, describe_invalid(name, exc))
        return result  # the arguments were fine: the tool itself failed, and said why


def _is_error(result: HandlerResult) -> bool:
    """A tool error, whether the handler's result is still a model or already its wire form."""
    if isinstance(result, CallToolResult):
        return bool(result.is_error)
    return isinstance(result, dict) and result.get("isError") is True


def _with_text(result: HandlerResult, text: str) -> HandlerResult:
    """The error `result` with `text` as its only content, in the form it came in. Its wire form keeps the envelope
    the SDK shaped for this protocol version (the 2026 `serverInfo` stamp, no 2026-only keys on a 2025 wire) and
    gains no null: a null optional field (`_meta`, `structuredContent`, `annotations`) makes the official TypeScript
    clients drop the whole answer as invalid, so the call hangs until their timeout."""
    if isinstance(result, CallToolResult):
        return result.model_copy(update={"content": [TextContent(type="text", text=text)], "structured_content": None})
    assert isinstance(result, dict)
    wire = {key: value for key, value in result.items() if key != "structuredContent"}
    return {**wire, "content": [{"type": "text", "text": text}], "isError": True}


def _bounded(result: HandlerResult) -> HandlerResult:
    """The error `result` with its text within `MAX_MESSAGE_CHARS` (the cut said), whichever path produced it: a
    refusal of runbridge's, the SDK's own wording around it, or an unknown tool's name echoed back."""
    if isinstance(result, CallToolResult):
        texts = [block.text for block in result.content if isinstance(block, TextContent)]
    elif isinstance(result, dict):
        content = result.get("content")
        blocks = content if isinstance(content, list) else []  # type: ignore[reportUnknownVariableType]
        texts = [b.get("text") for b in blocks if isinstance(b, dict) and isinstance(b.get("text"), str)]  # type: ignore
    else:
        return result
    text = "\n".join(texts)  # type: ignore[reportUnknownArgumentType]
    return result if len(text) <= MAX_MESSAGE_CHARS else _with_text(result, bounded(text))
