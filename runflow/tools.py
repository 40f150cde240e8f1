"""Tools: Python functions the model may call, with the schema it sees derived from them.

    @tool
    async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        '''Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit.
        '''

The function's type hints become the JSON schema of its parameters (through pydantic), the
docstring's summary the tool description and its Google-style `Args:` section the parameter
descriptions. The wire shape (`Tool.definition()`) is kept apart from the callable, and the same
pydantic model that produced the schema validates the model's arguments, so the two never drift.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, cast, get_type_hints, overload

import anyio.to_thread
from anyio import CapacityLimiter
from openai.types.beta import FunctionToolParam
from openai.types.shared_params import FunctionDefinition
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model
from pydantic.fields import FieldInfo

from runflow._docstrings import parse_google_docstring
from runflow.errors import ToolArgumentsError, ToolDefinitionError, UnknownToolError

__all__ = ["Tool", "ToolRegistry", "serialize_output", "tool"]

P = ParamSpec("P")
R = TypeVar("R")

_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ANY_ADAPTER: TypeAdapter[Any] = TypeAdapter(Any)
_VALUE_KEYS = frozenset({"default", "const", "enum", "examples"})


@dataclass(frozen=True, eq=False)
class Tool(Generic[P, R]):
    """A registered function: its wire definition plus how to validate and call it."""

    function: Callable[P, R]
    name: str
    description: str
    parameters: dict[str, Any]
    """JSON schema of the arguments object."""
    timeout: float | None = None
    """Seconds a call may take at most (the run's deadline may cut it shorter)."""
    strict: bool = False
    arguments_model: type[BaseModel] = field(repr=False, default=BaseModel)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the underlying function directly (as if it were not decorated)."""
        return self.function(*args, **kwargs)

    @property
    def is_async(self) -> bool:
        """Whether the function is a coroutine function (seen through `functools.wraps`)."""
        return inspect.iscoroutinefunction(inspect.unwrap(self.function))

    def definition(self) -> FunctionToolParam:
        """The `{"type": "function", ...}` entry for an assistant's or a run's `tools`."""
        function: FunctionDefinition = {
            "name": self.name,
            "description": self.description,
            "parameters": self.parameters,
        }
        if self.strict:
            function["strict"] = True
        return {"type": "function", "function": function}

    def parse_arguments(self, raw: str) -> dict[str, Any]:
        """Parse and validate the model's JSON arguments; raise `ToolArgumentsError`."""
        try:
            decoded = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON: {exc}") from exc
        if not isinstance(decoded, dict):
            raise ToolArgumentsError(
                f"arguments must be a JSON object, got {type(decoded).__name__}"
            )
        try:
            validated = self.arguments_model.model_validate(decoded)
        except ValidationError as exc:
            raise ToolArgumentsError(_describe_validation_error(exc)) from exc
        return {name: getattr(validated, name) for name in type(validated).model_fields}

    async def invoke(
        self, arguments: dict[str, Any], *, thread_limiter: CapacityLimiter | None = None
    ) -> R:
        """Call the function with validated arguments; sync functions run in a worker thread.

        A sync handler cancelled by a timeout keeps running in its thread until it returns
        (Python cannot stop a thread); its result is then discarded.
        """
        if self.is_async:
            awaitable = cast(Callable[..., Awaitable[R]], self.function)(**arguments)
            return await awaitable
        call = functools.partial(cast(Callable[..., R], self.function), **arguments)
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=thread_limiter)


@overload
def tool(function: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    strict: bool = False,
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    function: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
    strict: bool = False,
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Turn a function into a `Tool`; usable bare (`@tool`) or with options (`@tool(...)`)."""

    def decorate(fn: Callable[P, R]) -> Tool[P, R]:
        return _build_tool(fn, name=name, description=description, timeout=timeout, strict=strict)

    return decorate if function is None else decorate(function)


class ToolRegistry:
    """The set of tools a Runner can execute, by name."""

    def __init__(self, tools: Iterable[Tool[..., Any] | Callable[..., Any]] = ()) -> None:
        self._tools: dict[str, Tool[..., Any]] = {}
        for item in tools:
            self.add(item)

    @overload
    def tool(self, function: Callable[P, R], /) -> Tool[P, R]: ...

    @overload
    def tool(
        self,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        strict: bool = False,
    ) -> Callable[[Callable[P, R]], Tool[P, R]]: ...

    def tool(
        self,
        function: Callable[P, R] | None = None,
        /,
        *,
        name: str | None = None,
        description: str | None = None,
        timeout: float | None = None,
        strict: bool = False,
    ) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
        """Like `@tool`, and registers the result here."""

        def decorate(fn: Callable[P, R]) -> Tool[P, R]:
            built = _build_tool(
                fn, name=name, description=description, timeout=timeout, strict=strict
            )
            self.add(built)
            return built

        return decorate if function is None else decorate(function)

    def add(self, item: Tool[..., Any] | Callable[..., Any]) -> Tool[..., Any]:
        """Register a `Tool` (or a plain function, made into one); names must be unique."""
        built = item if isinstance(item, Tool) else tool(item)
        if built.name in self._tools:
            raise ToolDefinitionError(f"a tool named {built.name!r} is already registered")
        self._tools[built.name] = built
        return built

    def get(self, name: str) -> Tool[..., Any]:
        """The tool called `name`; `UnknownToolError` (naming the known ones) otherwise."""
        try:
            return self._tools[name]
        except KeyError:
            known = ", ".join(sorted(self._tools)) or "none"
            raise UnknownToolError(
                f"no tool named {name!r} is available (available tools: {known})"
            ) from None

    def definitions(self) -> list[FunctionToolParam]:
        """The `tools=[...]` list to create or update an assistant (or a run) with."""
        return [registered.definition() for registered in self._tools.values()]

    def __iter__(self) -> Iterator[Tool[..., Any]]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools


def serialize_output(value: object) -> str:
    """A handler's return value as the text submitted to the model.

    str is sent as is; None as an empty string; pydantic models, dataclasses, dicts, lists and
    other JSON-able values as JSON.
    """
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return _ANY_ADAPTER.dump_json(value).decode()


def _build_tool(
    function: Callable[P, R],
    *,
    name: str | None,
    description: str | None,
    timeout: float | None,
    strict: bool,
) -> Tool[P, R]:
    tool_name: str = name or str(getattr(function, "__name__", ""))
    if not _NAME_PATTERN.match(tool_name):
        raise ToolDefinitionError(
            f"tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-'"
        )
    if timeout is not None and timeout <= 0:
        raise ToolDefinitionError(f"tool {tool_name!r}: timeout must be positive, got {timeout}")
    docs = parse_google_docstring(inspect.getdoc(function) or "")
    arguments_model = _arguments_model(function, tool_name, docs.params)
    parameters = _schema_for(arguments_model, tool_name, strict=strict)
    return Tool(
        function=function,
        name=tool_name,
        description=description if description is not None else docs.summary,
        parameters=parameters,
        timeout=timeout,
        strict=strict,
        arguments_model=arguments_model,
    )


def _arguments_model(
    function: Callable[..., Any], tool_name: str, param_docs: dict[str, str]
) -> type[BaseModel]:
    try:
        hints = get_type_hints(function, include_extras=True)
        signature = inspect.signature(function)
    except (NameError, TypeError, ValueError) as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: cannot read its signature: {exc}") from exc
    fields: dict[str, Any] = {}
    for param in signature.parameters.values():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD, param.POSITIONAL_ONLY):
            raise ToolDefinitionError(
                f"tool {tool_name!r}: parameter {param.name!r} must be passable by keyword "
                "(no *args, **kwargs or positional-only parameters)"
            )
        if param.name.startswith("_"):
            raise ToolDefinitionError(
                f"tool {tool_name!r}: parameter {param.name!r} cannot start with '_' "
                "(pydantic treats such names as private)"
            )
        if param.name not in hints:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: parameter {param.name!r} needs a type annotation"
            )
        fields[param.name] = (hints[param.name], _field(param, hints[param.name], param_docs))
    try:
        return create_model(
            f"{tool_name}_arguments", __config__=ConfigDict(extra="forbid"), **fields
        )
    except Exception as exc:
        raise ToolDefinitionError(f"tool {tool_name!r}: {exc}") from exc


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


def _schema_for(model: type[BaseModel], tool_name: str, *, strict: bool) -> dict[str, Any]:
    try:
        schema: dict[str, Any] = _without_titles(model.model_json_schema())
    except Exception as exc:
        raise ToolDefinitionError(
            f"tool {tool_name!r}: its parameters cannot be expressed as JSON schema: {exc}"
        ) from exc
    schema.setdefault("properties", {})
    if strict:
        optional = set(schema["properties"]) - set(schema.get("required", []))
        if optional:
            raise ToolDefinitionError(
                f"tool {tool_name!r}: strict tools cannot have optional parameters "
                f"({', '.join(sorted(optional))})"
            )
    return schema


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


def _describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "(arguments)"
        problems.append(f"{location}: {error['msg']}")
    return "arguments do not match the tool's schema: " + "; ".join(problems)
