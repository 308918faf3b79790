"""How a tool's typed result goes on the wire: its structured content, the same JSON as the text the model reads,
and the output schema the client checks it against.

Content and schema keep one rule between them: a field that is optional with a None default is left out when it is
None, never sent as null. The published schema says so (it offers no null for such a field), which is what a host
generating types from it should see, and it is cheaper to check: a client tries each null against the field's
non-null type first. The schema is written so by pydantic itself (`AbsentNotNull`), not edited afterwards."""

from __future__ import annotations

import functools
from typing import Any, cast

import pydantic_core
from mcp_types import CallToolResult, Result, TextContent
from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["AbsentNotNull", "output_schema", "self_contained", "structured", "tool_result"]


def tool_result(value: Any) -> Any:
    """What a tool returns, ready for the client: a model becomes its structured content (see `structured`) and
    the same JSON, indented, as the text the model reads. Anything else (an MCP result such as
    `InputRequiredResult`, plain data) is returned as it is."""
    if not isinstance(value, BaseModel) or isinstance(value, Result):
        return value
    doc = structured(value)
    text = pydantic_core.to_json(doc, indent=2).decode()
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=doc)


def structured(model: BaseModel) -> dict[str, Any]:
    """`model` as JSON, without the fields that are None and optional with a None default, in it and in the models
    it holds (directly, in lists, or as dict values).

    A field that is required, or whose default is not None, keeps its null. Data under `Any` or `dict` fields (a
    run's outputs, a gate's context) is never touched."""
    doc = model.model_dump(mode="json", by_alias=True)
    _prune(model, doc)
    return doc


def _prune(model: BaseModel, doc: dict[str, Any]) -> None:
    for name, key, optional in _fields(type(model)):
        if key not in doc:  # excluded from dumps
            continue
        value = getattr(model, name)
        if value is None:
            if optional:
                del doc[key]
        elif isinstance(value, BaseModel):
            _prune(value, doc[key])
        elif isinstance(value, list | tuple):
            for item, dumped in zip(value, doc[key], strict=False):  # type: ignore[arg-type]
                if isinstance(item, BaseModel):
                    _prune(item, dumped)
        elif isinstance(value, dict):
            dumped_values: dict[str, Any] = doc[key]
            for item_key, item in value.items():  # type: ignore[misc]
                if isinstance(item, BaseModel) and isinstance(dumped_values.get(item_key), dict):  # type: ignore[arg-type]
                    _prune(item, dumped_values[item_key])  # type: ignore[index]


@functools.cache
def _fields(cls: type[BaseModel]) -> tuple[tuple[str, str, bool], ...]:
    """(attribute, JSON key, whether None is left out) for each field of a model class."""
    return tuple(
        (name, info.serialization_alias or info.alias or name, info.default is None and not info.is_required())
        for name, info in cls.model_fields.items()
    )


def output_schema(result_type: Any) -> dict[str, Any]:
    """The output schema runbridge publishes for a tool returning `result_type` (a model): offering no null for
    the fields `structured` leaves out (`AbsentNotNull`), and written out without references (`self_contained`)."""
    return self_contained(TypeAdapter(result_type).json_schema(schema_generator=AbsentNotNull))


class AbsentNotNull(GenerateJsonSchema):
    """JSON Schema for what `structured` sends: a field that may be None and defaults to None is left out when it
    is None, so its schema is that of its non-null type, without the null default. A required field, or one whose
    default is not None, keeps its null."""

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        inner = schema["schema"]
        if inner["type"] == "nullable" and "default" in schema and schema["default"] is None:
            return self.generate_inner(cast(core_schema.NullableSchema, inner)["schema"])
        return super().default_schema(schema)


def self_contained(schema: dict[str, Any]) -> dict[str, Any]:
    """An output schema with every `$ref` to its own `$defs` replaced by the definition: the same schema, which a
    client validates without resolving a reference at each nested object (with Python's `jsonschema`, half the
    time of a run's result), and which clients that do not follow references read whole. A schema with a
    recursive definition, or a reference elsewhere, cannot be written out so: it is returned as it is."""
    defs: dict[str, Any] = schema.get("$defs", {})
    if not defs:
        return schema

    def expand(node: Any, within: tuple[str, ...]) -> Any:
        if isinstance(node, list):
            return [expand(item, within) for item in node]  # type: ignore[misc]
        if not isinstance(node, dict):
            return node
        ref = node.get("$ref")  # type: ignore[union-attr]
        if ref is None:
            return {k: expand(v, within) for k, v in node.items()}  # type: ignore[union-attr]
        name = ref[len("#/$defs/") :] if isinstance(ref, str) and ref.startswith("#/$defs/") else None
        if name is None or name not in defs or name in within:
            raise _Unexpandable(ref)
        notes = {k: expand(v, within) for k, v in node.items() if k != "$ref"}  # type: ignore[union-attr]
        return {**expand(defs[name], (*within, name)), **notes}

    try:
        return expand({k: v for k, v in schema.items() if k != "$defs"}, ())
    except _Unexpandable:
        return schema


class _Unexpandable(Exception):
    """A reference that cannot be replaced by its definition: recursive, or not to the schema's own `$defs`."""
