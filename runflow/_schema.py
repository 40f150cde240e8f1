"""From a handler's signature to the pydantic model of its arguments, and to the JSON schema
of its parameters.

The model has one field per parameter (its annotation, its default, its description from the
docstring unless `Field`/`Annotated` give one) and forbids extra arguments.

By default the schema is pydantic's, minus the `title`s it generates. A strict tool
(`@tool(strict=True)`) gets the subset of JSON schema that OpenAI's strict function calling
(Structured Outputs) accepts:

- every object, nested models and `$defs` included, has `additionalProperties: false` and lists
  all its properties in `required`. A parameter or field with a default is therefore required
  too: the model always sends a value, and the default is stated in the description;
- an optional value (`X | None`) is a union with null, which pydantic already writes as
  `anyOf: [X, {"type": "null"}]`; a null from the model is validated as the value None;
- `const` becomes a one-value `enum`, `oneOf` becomes `anyOf` (a discriminated union's
  `discriminator` is dropped: the tag values tell the variants apart), and a `$ref` with
  sibling keywords (a description) is replaced by the definition it points to;
- value hints outside the subset (`default`, `minLength`, `maxLength`, `uniqueItems`,
  `examples`, a `format` other than those listed in `STRICT_FORMATS`) leave the schema for the
  description, e.g. "How many days. (default: 1)". They are still enforced when the arguments
  are validated, so a value breaking one comes back to the model as `invalid_arguments`;
- what strict schemas cannot express at all (free-form maps such as `dict[str, X]`, `Any`,
  tuples, intersections) is a `ToolDefinitionError` at registration.

Pure code, no I/O.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any, cast, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.fields import FieldInfo

from runflow._errors import ToolDefinitionError

__all__ = ["STRICT_FORMATS", "arguments_model_of", "parameters_schema"]

STRICT_FORMATS = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
"""The string `format`s strict schemas accept."""

_VALUE_KEYS = frozenset({"default", "const", "enum", "examples"})
_STRICT_KEYWORDS = frozenset(
    {
        *("type", "description", "properties", "required", "additionalProperties", "items"),
        *("anyOf", "enum", "$ref", "$defs", "pattern", "format", "multipleOf"),
        *("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems"),
    }
)
_HINTED_KEYWORDS = ("default", "minLength", "maxLength", "uniqueItems", "examples")
_UNEXPRESSIBLE = {
    "additionalProperties": "a free-form map (dict)",
    "patternProperties": "a free-form map (dict)",
    "propertyNames": "a free-form map (dict)",
    "prefixItems": "a tuple",
    "allOf": "an intersection (allOf)",
    "not": "a negation (not)",
}


def arguments_model_of(
    function: Callable[..., Any],
    tool_name: str,
    param_docs: dict[str, str],
    *,
    context_type: type,
) -> tuple[type[BaseModel], str | None]:
    """The model validating the function's arguments, and the name of the parameter annotated
    `context_type` (left out of the model: the runner passes it), if there is one.

    `param_docs` describe the parameters (from the docstring's `Args:` section).
    """
    try:
        hints = get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
    except (NameError, TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot read its signature: {exc}") from exc
    fields: dict[str, Any] = {}
    context: list[str] = []
    for param in signature.parameters.values():
        problem = _parameter_problem(param, hints)
        if problem:
            raise ToolDefinitionError(f"tool {tool_name!r}: parameter {param.name!r} {problem}")
        if hints[param.name] is context_type:
            context.append(param.name)
        else:
            fields[param.name] = (hints[param.name], _field(param, hints[param.name], param_docs))
    if len(context) > 1:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: more than one {context_type.__name__} parameter"
        )
    try:
        model = create_model(
            f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: {exc}") from exc
    return model, context[0] if context else None


def _parameter_problem(param: inspect.Parameter, hints: dict[str, Any]) -> str | None:
    """Why a parameter cannot be a tool argument, if it cannot."""
    if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
        return "must be passable by keyword (no *args, **kwargs or positional-only parameters)"
    if param.name.startswith("_"):
        return "cannot start with '_' (pydantic treats such names as private)"
    if param.name not in hints:
        return "needs a type annotation"
    return None


def _field(param: inspect.Parameter, annotation: Any, param_docs: dict[str, str]) -> Any:
    """The pydantic field of a parameter: its default, described by the docstring unless the
    annotation or a `Field(...)` default already says more."""
    default = ... if param.default is param.empty else param.default
    doc = param_docs.get(param.name)
    metadata = getattr(annotation, "__metadata__", ())
    explicit = [meta for meta in metadata if isinstance(meta, FieldInfo)]
    if isinstance(default, FieldInfo):
        explicit.append(default)
    if doc is None or any(field_info.description for field_info in explicit):
        return default
    if isinstance(default, FieldInfo):
        return FieldInfo.merge_field_infos(default, description=doc)
    return Field(default, description=doc)


def parameters_schema(model: type[BaseModel], tool_name: str, *, strict: bool) -> dict[str, Any]:
    """The `parameters` schema of a tool whose arguments `model` validates."""
    try:
        schema: dict[str, Any] = _without_titles(model.model_json_schema())
    except Exception as exc:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: its parameters cannot be expressed as JSON schema: {exc}"
        ) from exc
    schema.setdefault("properties", {})
    if not strict:
        return schema
    try:
        return _Strict(schema.get("$defs", {})).node(schema, "")
    except _Unexpressible as exc:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: a strict schema cannot express {exc.what} "
            f"(at {exc.where or 'the arguments object'}); change the type or use strict=False"
        ) from None


class _Unexpressible(Exception):
    def __init__(self, what: str, where: str) -> None:
        super().__init__(what, where)
        self.what = what
        self.where = where


class _Strict:
    """Rewrites a schema, node by node, into the strict subset."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self._defs = defs
        self._inlining: set[str] = set()

    def node(self, schema: dict[str, Any], where: str) -> dict[str, Any]:
        """The strict form of one schema node; `where` names it in error messages."""
        schema = self._rewritten(schema)
        if "$ref" in schema and len(schema) > 1:
            return self._inlined(schema, where)
        hints = _hints(schema)
        converted: dict[str, Any] = {}
        for key, value in schema.items():
            if key not in _STRICT_KEYWORDS:
                raise _Unexpressible(_UNEXPRESSIBLE.get(key, f"the keyword {key!r}"), where)
            converted[key] = self._children(key, value, where)
        if not converted.keys() & {"type", "anyOf", "enum", "$ref"}:
            raise _Unexpressible("a value of any type (Any)", where)
        if converted.get("type") == "object":
            _close_object(converted, where)
        if hints:
            description = converted.get("description", "")
            converted["description"] = f"{description} ({'; '.join(hints)})".lstrip()
        return converted

    def _rewritten(self, schema: dict[str, Any]) -> dict[str, Any]:
        """Equivalent spellings of what strict schemas do not accept."""
        schema = {key: value for key, value in schema.items() if key != "discriminator"}
        if "const" in schema:
            schema["enum"] = [schema.pop("const")]
        if "oneOf" in schema:
            schema["anyOf"] = schema.pop("oneOf")
        if isinstance(schema.get("allOf"), list) and len(schema["allOf"]) == 1:
            schema = {**schema.pop("allOf")[0], **schema}
        if schema.get("default", 0) is None:
            del schema["default"]  # the null in the union already says it
        return schema

    def _inlined(self, schema: dict[str, Any], where: str) -> dict[str, Any]:
        """A `$ref` with siblings: the definition itself, the siblings taking precedence.

        A definition already being inlined (a model that contains itself) keeps its `$ref`
        and loses the siblings instead, so the rewriting ends.
        """
        ref = schema.pop("$ref")
        name = str(ref).removeprefix("#/$defs/")
        if name in self._inlining or name not in self._defs:
            return self.node({"$ref": ref}, where)
        self._inlining.add(name)
        try:
            return self.node({**self._defs[name], **schema}, where)
        finally:
            self._inlining.discard(name)

    def _children(self, key: str, value: Any, where: str) -> Any:
        if key in ("properties", "$defs"):
            prefix = f"{where}." if where and key == "properties" else ""
            children = cast(dict[str, Any], value)
            return {name: self.node(sub, f"{prefix}{name}") for name, sub in children.items()}
        if key == "items":
            return self.node(value, f"{where}[]")
        if key == "anyOf":
            return [self.node(variant, where) for variant in value]
        return value


def _hints(schema: dict[str, Any]) -> list[str]:
    """Remove the keywords strict schemas lack from `schema`; return them as description text."""
    hints = [
        f"{key}: {json.dumps(schema.pop(key), ensure_ascii=False)}"
        for key in _HINTED_KEYWORDS
        if key in schema
    ]
    if "format" in schema and schema["format"] not in STRICT_FORMATS:
        hints.append(f"format: {schema.pop('format')}")
    return hints


def _close_object(schema: dict[str, Any], where: str) -> None:
    if schema.get("additionalProperties", False) is not False:
        raise _Unexpressible(_UNEXPRESSIBLE["additionalProperties"], where)
    properties = schema.setdefault("properties", {})
    schema["additionalProperties"] = False
    schema["required"] = list(properties)


def _without_titles(schema: Any) -> Any:
    """Drop pydantic's generated `title`s: noise in the prompt, no meaning for the model."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    cleaned: dict[str, Any] = {}
    for key, value in cast(dict[str, Any], schema).items():
        if key == "title" and isinstance(value, str):
            continue
        if key in _VALUE_KEYS:
            cleaned[key] = value  # data, not schema: a "title" in there is meaningful
        elif key in ("properties", "$defs") and isinstance(value, dict):
            cleaned[key] = {
                name: _without_titles(sub) for name, sub in cast(dict[str, Any], value).items()
            }
        else:
            cleaned[key] = _without_titles(value)
    return cleaned
