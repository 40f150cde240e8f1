"""Tools: Python functions the model may call, with the schema it sees derived from them.

    @tool
    async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        '''Current weather for a city.

        Args:
            city: City name, e.g. "Paris".
            unit: Temperature unit.
        '''

The function's type hints become the JSON schema of its parameters (through pydantic, see
`runflow._schema`), the docstring's summary the tool description and its Google-style `Args:`
section the parameter descriptions. The wire shape (`Tool.definition()`) is kept apart from the
callable, and the same pydantic model that produced the schema validates the model's
arguments, so the two never drift.

A parameter annotated `ToolContext` is not part of the schema: the runner passes the call's
context (run, thread, call id, time left) in it. Options (`@tool(...)`, see `ToolOptions`) set
the name, description, timeout, strictness, the error policy, the output cap and how many
executions of the tool may run at once.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import (
    Any,
    Generic,
    Literal,
    ParamSpec,
    TypedDict,
    TypeVar,
    Unpack,
    cast,
    overload,
)

import anyio.to_thread
from anyio import CapacityLimiter
from openai.types.beta import FunctionToolParam
from openai.types.shared_params import FunctionDefinition
from pydantic import BaseModel, TypeAdapter, ValidationError

from runflow._docstrings import parse_google_docstring
from runflow._errors import ToolArgumentsError, ToolDefinitionError, UnknownToolError, UsageError
from runflow._schema import arguments_model_of, parameters_schema
from runflow.clock import Clock, SystemClock

__all__ = [
    "DEFAULT_MAX_OUTPUT_CHARS",
    "ErrorPolicy",
    "Tool",
    "ToolContext",
    "ToolOptions",
    "ToolRegistry",
    "serialize_output",
    "tool",
]

P = ParamSpec("P")
R = TypeVar("R")

ErrorPolicy = Literal["return", "fail", "cancel"]
"""What a handler's failure does: `return` the error to the model, `fail` or `cancel` the run."""

DEFAULT_MAX_OUTPUT_CHARS = 16_000
"""Outputs longer than this are truncated. An output stays in the thread and is read again by
the model on every later turn: 16,000 characters (about 4,000 tokens) is far above a typical
result, and keeps one runaway output (a whole file, a huge listing) from filling the context."""

MIN_OUTPUT_CHARS = 200
"""The smallest output cap: room for a structured error output and the truncation marker."""

_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_ANY_ADAPTER: TypeAdapter[Any] = TypeAdapter(Any)
_ERROR_POLICIES = ("return", "fail", "cancel")


@dataclass(frozen=True)
class ToolContext:
    """About the call a handler is serving; ask for it with a parameter annotated `ToolContext`.

    Ids are empty strings when unknown (a tool invoked directly rather than by a run).
    """

    tool_name: str
    tool_call_id: str = ""
    run_id: str = ""
    thread_id: str = ""
    stop_at: float | None = None
    """When (on `clock`) the handler is cancelled: its own timeout or the run's deadline,
    whichever comes first. None: no limit."""
    expires_at: float | None = None
    """The run's `expires_at` (server epoch seconds), when known."""
    clock: Clock = field(default_factory=SystemClock, repr=False, compare=False)
    """The runner's clock."""

    def time_left(self) -> float | None:
        """Seconds until the handler is cancelled (0 once past); None if it never is."""
        return None if self.stop_at is None else max(0.0, self.stop_at - self.clock.now())


class ToolOptions(TypedDict, total=False):
    """The options of `@tool(...)` and `ToolRegistry.tool(...)`."""

    name: str | None
    """The name the model calls the tool by (default: the function's name)."""
    description: str | None
    """What the tool does, for the model (default: the docstring's summary)."""
    timeout: float | None
    """Seconds a call may take at most (the run's deadline may cut it shorter)."""
    strict: bool
    """Send a strict schema: the model's arguments always match it (see `runflow._schema`)."""
    on_error: ErrorPolicy
    """When the handler raises or times out: `return` the error output to the model (default),
    `fail` the run (the caller gets an error), or `cancel` it."""
    max_output_chars: int | None
    """Cap on this tool's outputs (default: the registry's)."""
    max_concurrency: int | None
    """At most this many executions at once, across all the runs of the process."""


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
    context_parameter: str | None = None
    """The parameter that receives the `ToolContext`, if the function has one."""
    on_error: ErrorPolicy = "return"
    max_output_chars: int | None = None
    max_concurrency: int | None = None
    _limiter: list[CapacityLimiter] = field(default_factory=list, init=False, repr=False)
    """Holds the limiter once created (a limiter needs a running event loop)."""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        """Call the underlying function directly (as if it were not decorated)."""
        return self.function(*args, **kwargs)

    @functools.cached_property
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

    def limiter(self) -> CapacityLimiter | None:
        """The limiter shared by all executions of this tool; None without `max_concurrency`.

        Created on first use, which must be inside an event loop.
        """
        if self.max_concurrency is None:
            return None
        if not self._limiter:
            self._limiter.append(CapacityLimiter(self.max_concurrency))
        return self._limiter[0]

    def parse_arguments(self, raw: str) -> dict[str, Any]:
        """Parse and validate the model's JSON arguments; raise `ToolArgumentsError`."""
        try:
            decoded = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError as exc:
            raise ToolArgumentsError(f"arguments are not valid JSON: {exc}") from exc
        except RecursionError as exc:
            raise ToolArgumentsError("arguments are nested too deeply to read") from exc
        if not isinstance(decoded, dict):
            raise ToolArgumentsError(
                f"arguments must be a JSON object, got {type(decoded).__name__}"
            )
        try:
            validated = self.arguments_model.model_validate(decoded)
        except ValidationError as exc:
            raise ToolArgumentsError(_describe_validation_error(exc)) from exc
        except RecursionError as exc:
            raise ToolArgumentsError("arguments are nested too deeply to validate") from exc
        return {name: getattr(validated, name) for name in type(validated).model_fields}

    async def invoke(
        self,
        arguments: dict[str, Any],
        *,
        context: ToolContext | None = None,
        thread_limiter: CapacityLimiter | None = None,
    ) -> R:
        """Call the function with validated arguments; sync functions run in a worker thread.

        A function that asks for a `ToolContext` gets `context` (an empty one if None). Neither
        `timeout` nor `max_concurrency` is applied here: the runner applies them around this.
        A sync handler cancelled by a timeout keeps running in its thread until it returns
        (Python cannot stop a thread); its result is then discarded.
        """
        if self.context_parameter is not None:
            given = context if context is not None else ToolContext(tool_name=self.name)
            arguments = {**arguments, self.context_parameter: given}
        if self.is_async:
            awaitable = cast(Callable[..., Awaitable[R]], self.function)(**arguments)
            return await awaitable
        call = functools.partial(cast(Callable[..., R], self.function), **arguments)
        return await anyio.to_thread.run_sync(call, abandon_on_cancel=True, limiter=thread_limiter)


@overload
def tool(function: Callable[P, R], /) -> Tool[P, R]: ...


@overload
def tool(**options: Unpack[ToolOptions]) -> Callable[[Callable[P, R]], Tool[P, R]]: ...


def tool(
    function: Callable[P, R] | None = None, /, **options: Unpack[ToolOptions]
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Turn a function into a `Tool`; usable bare (`@tool`) or with options (`@tool(...)`).

    Args:
        function: The function, when used bare.
        **options: See `ToolOptions`.
    """

    def decorate(fn: Callable[P, R]) -> Tool[P, R]:
        return _build_tool(fn, options)

    return decorate if function is None else decorate(function)


class ToolRegistry:
    """The set of tools a Runner can execute, by name.

    Args:
        tools: Tools (or plain functions, made into tools) to register.
        max_output_chars: Outputs longer than this are truncated, with a visible marker,
            unless the tool sets its own cap.
    """

    def __init__(
        self,
        tools: Iterable[Tool[..., Any] | Callable[..., Any]] = (),
        *,
        max_output_chars: int = DEFAULT_MAX_OUTPUT_CHARS,
    ) -> None:
        if max_output_chars < MIN_OUTPUT_CHARS:
            raise UsageError(f"max_output_chars must be at least {MIN_OUTPUT_CHARS}")
        self.max_output_chars = max_output_chars
        self._tools: dict[str, Tool[..., Any]] = {}
        for item in tools:
            self.add(item)

    @overload
    def tool(self, function: Callable[P, R], /) -> Tool[P, R]: ...

    @overload
    def tool(self, /, **options: Unpack[ToolOptions]) -> Callable[[Callable[P, R]], Tool[P, R]]: ...

    def tool(
        self, function: Callable[P, R] | None = None, /, **options: Unpack[ToolOptions]
    ) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
        """Like `@tool`, and registers the result here."""

        def decorate(fn: Callable[P, R]) -> Tool[P, R]:
            built = _build_tool(fn, options)
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

    def output_limit(self, name: str) -> int:
        """The output cap of the tool called `name` (the registry's for an unknown name)."""
        registered = self._tools.get(name)
        own = None if registered is None else registered.max_output_chars
        return self.max_output_chars if own is None else own

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


def _build_tool(function: Callable[P, R], options: ToolOptions) -> Tool[P, R]:
    tool_name: str = options.get("name") or str(getattr(function, "__name__", ""))
    _check_options(tool_name, options)
    strict = options.get("strict", False)
    description = options.get("description")
    docs = parse_google_docstring(inspect.getdoc(function) or "")
    arguments_model, context_parameter = arguments_model_of(
        function, tool_name, docs.params, context_type=ToolContext
    )
    return Tool(
        function=function,
        name=tool_name,
        description=description if description is not None else docs.summary,
        parameters=parameters_schema(arguments_model, tool_name, strict=strict),
        timeout=options.get("timeout"),
        strict=strict,
        arguments_model=arguments_model,
        context_parameter=context_parameter,
        on_error=options.get("on_error", "return"),
        max_output_chars=options.get("max_output_chars"),
        max_concurrency=options.get("max_concurrency"),
    )


def _check_options(tool_name: str, options: ToolOptions) -> None:
    unknown = options.keys() - ToolOptions.__optional_keys__
    if unknown:
        raise ToolDefinitionError(f"tool {tool_name!r}: unknown options {sorted(unknown)}")
    if not _NAME_PATTERN.match(tool_name):
        raise ToolDefinitionError(
            f"tool name {tool_name!r} must be 1-64 letters, digits, '_' or '-'"
        )
    problems = []
    timeout = options.get("timeout")
    if timeout is not None and timeout <= 0:
        problems.append(f"timeout must be positive, got {timeout}")
    if options.get("on_error", "return") not in _ERROR_POLICIES:
        problems.append(f"on_error must be one of {_ERROR_POLICIES}, got {options['on_error']!r}")
    max_output_chars = options.get("max_output_chars")
    if max_output_chars is not None and max_output_chars < MIN_OUTPUT_CHARS:
        problems.append(f"max_output_chars must be at least {MIN_OUTPUT_CHARS}")
    max_concurrency = options.get("max_concurrency")
    if max_concurrency is not None and max_concurrency < 1:
        problems.append(f"max_concurrency must be at least 1, got {max_concurrency}")
    if problems:
        raise ToolDefinitionError(f"tool {tool_name!r}: {'; '.join(problems)}")


def _describe_validation_error(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        location = ".".join(str(part) for part in error["loc"]) or "(arguments)"
        problems.append(f"{location}: {error['msg']}")
    return "arguments do not match the tool's schema: " + "; ".join(problems)
