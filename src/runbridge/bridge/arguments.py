"""Arguments that do not fit a tool's input schema: one curated sentence per field for the model, instead of the
validation library's report (its model class names, input types and documentation links)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mcp.server.context import CallNext, HandlerResult, ServerRequestContext
from mcp_types import CallToolResult, TextContent
from pydantic import ValidationError

__all__ = ["InvalidArguments", "describe_invalid"]

_MAX_FIELDS = 5

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


class InvalidArguments:
    """Server middleware: a `tools/call` refused for its arguments gets a message from `describe_invalid`.

    `validator(name)` gives a tool's argument check (None for an unknown tool). It runs again only for a call that
    already failed, so a call that succeeds costs nothing more."""

    def __init__(self, validator: Callable[[str], Validator | None]) -> None:
        self._validator = validator

    async def __call__(self, ctx: ServerRequestContext[Any, Any], call_next: CallNext) -> HandlerResult:
        result = await call_next(ctx)
        if ctx.method != "tools/call" or not _is_error(result):
            return result
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
