"""Tool registration: schemas from signatures and docstrings, argument validation."""

import json
from typing import Annotated, Any, Literal

import anyio
import pytest
from pydantic import BaseModel, Field

from runflow import (
    Tool,
    ToolArgumentsError,
    ToolDefinitionError,
    ToolRegistry,
    UnknownToolError,
    UsageError,
    tool,
)
from runflow._tools import DEFAULT_MAX_OUTPUT_CHARS, ToolContext, serialize_output
from runflow.testing import FakeClock


@tool
async def get_weather(city: str, unit: Literal["c", "f"] = "c", days: int = 1) -> str:
    """Current weather for a city.

    Uses the national weather services.

    Args:
        city: City name, e.g. "Paris".
        unit (str): Temperature unit,
            Celsius or Fahrenheit.
        days: How many days.

    Returns:
        A short forecast.
    """
    return f"{city}:{unit}:{days}"


def test_bare_decorator_builds_the_wire_definition() -> None:
    assert isinstance(get_weather, Tool)
    assert get_weather.definition() == {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather for a city.\n\nUses the national weather services.",
            "parameters": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "city": {"type": "string", "description": 'City name, e.g. "Paris".'},
                    "unit": {
                        "type": "string",
                        "enum": ["c", "f"],
                        "default": "c",
                        "description": "Temperature unit, Celsius or Fahrenheit.",
                    },
                    "days": {"type": "integer", "default": 1, "description": "How many days."},
                },
                "required": ["city"],
            },
        },
    }


def test_decorated_function_stays_callable() -> None:
    assert anyio.run(lambda: get_weather("Oslo", "f", 2)) == "Oslo:f:2"


def test_decorator_options() -> None:
    @tool(name="lookup-user", description="Find a user.", timeout=2.5, strict=True)
    def find(user_id: Annotated[int, Field(ge=1, description="Numeric id")]) -> dict[str, int]:
        return {"id": user_id}

    definition = find.definition()
    assert definition["function"]["name"] == "lookup-user"
    assert definition["function"]["description"] == "Find a user."
    assert definition["function"].get("strict") is True
    assert definition["function"]["parameters"]["properties"] == {
        "user_id": {"type": "integer", "minimum": 1, "description": "Numeric id"}
    }
    assert find.timeout == 2.5


class Address(BaseModel):
    street: str
    zip_code: str


def test_model_parameters_and_validation() -> None:
    @tool
    def ship(to: Address, quantity: int) -> str:
        """Ship an order."""
        return f"{quantity} to {to.street}"

    args = ship.parse_arguments('{"to": {"street": "Main", "zip_code": "1"}, "quantity": "3"}')
    assert args == {"to": Address(street="Main", zip_code="1"), "quantity": 3}
    assert "$defs" in ship.parameters


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param("{not json", "not valid JSON", id="invalid-json"),
        pytest.param("[1, 2]", "must be a JSON object, got list", id="not-an-object"),
        pytest.param('{"unit": "c"}', "city: Field required", id="missing-required"),
        pytest.param('{"city": "x", "unit": "k"}', "unit: Input should be 'c' or 'f'", id="enum"),
        pytest.param(
            '{"city": "x", "days": "many"}', "days: Input should be a valid integer", id="type"
        ),
        pytest.param(
            '{"city": "x", "color": 1}', "color: Extra inputs are not permitted", id="extra"
        ),
    ],
)
def test_bad_arguments_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(ToolArgumentsError, match=message):
        get_weather.parse_arguments(raw)


def test_empty_arguments_mean_no_arguments() -> None:
    @tool
    def ping() -> str:
        """Ping."""
        return "pong"

    assert ping.parse_arguments("") == {}
    assert ping.parameters == {"type": "object", "additionalProperties": False, "properties": {}}


def untyped(city):  # type: ignore[no-untyped-def]
    return city


def star_args(*cities: str) -> str:
    return ""


def plain(city: str = "x") -> str:
    return city


def two_contexts(first: ToolContext, second: ToolContext) -> str:
    return ""


@pytest.mark.parametrize(
    ("function", "options", "message"),
    [
        pytest.param(untyped, {}, "parameter 'city' needs a type annotation", id="untyped"),
        pytest.param(star_args, {}, "must be passable by keyword", id="star-args"),
        pytest.param(untyped, {"name": "has space"}, "must be 1-64 letters", id="bad-name"),
        pytest.param(star_args, {"name": "x" * 65}, "must be 1-64 letters", id="long-name"),
        pytest.param(plain, {"timeout": 0}, "timeout must be positive", id="timeout"),
        pytest.param(plain, {"on_error": "ignore"}, "on_error must be one of", id="policy"),
        pytest.param(plain, {"max_output_chars": 10}, "at least 200", id="output-cap"),
        pytest.param(plain, {"max_concurrency": 0}, "max_concurrency must be", id="concurrency"),
        pytest.param(plain, {"timout": 1}, r"unknown options \['timout'\]", id="typo"),
        pytest.param(two_contexts, {}, "more than one ToolContext", id="two-contexts"),
    ],
)
def test_signatures_that_cannot_be_tools_fail_at_registration(
    function: Any, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ToolDefinitionError, match=message):
        tool(**options)(function)


def test_registry() -> None:
    registry = ToolRegistry([get_weather])

    @registry.tool(name="now")
    def current_time() -> str:
        return "noon"

    assert "now" in registry and len(registry) == 2
    assert [d["function"]["name"] for d in registry.definitions()] == ["get_weather", "now"]
    with pytest.raises(ToolDefinitionError, match="already registered"):
        registry.add(get_weather)
    with pytest.raises(UnknownToolError, match=r"no tool named 'nope'.*get_weather, now"):
        registry.get("nope")


def test_output_serialization() -> None:
    assert serialize_output("plain") == "plain"
    assert serialize_output(None) == ""
    assert json.loads(serialize_output({"a": [1, 2]})) == {"a": [1, 2]}
    assert json.loads(serialize_output(Address(street="s", zip_code="z"))) == {
        "street": "s",
        "zip_code": "z",
    }


def test_descriptions_come_from_field_or_annotation_before_the_docstring() -> None:
    @tool
    def search(
        query: Annotated[str, Field(description="From the annotation")],
        limit: int = Field(3, ge=1, description="From Field"),
        offset: int = Field(0, ge=0),
    ) -> str:
        """Search the catalogue:

        Args:
            query: From the docstring.
            limit: From the docstring.
            offset: Where to start.
        """
        return f"{query}:{limit}:{offset}"

    properties = search.parameters["properties"]
    assert search.description == "Search the catalogue:"
    assert properties["query"]["description"] == "From the annotation"
    assert properties["limit"] == {
        "type": "integer",
        "minimum": 1,
        "default": 3,
        "description": "From Field",
    }
    assert properties["offset"] == {
        "type": "integer",
        "minimum": 0,
        "default": 0,
        "description": "Where to start.",
    }
    assert search.parse_arguments('{"query": "q"}') == {"query": "q", "limit": 3, "offset": 0}


def test_titles_inside_values_are_kept() -> None:
    @tool
    def label(kind: Literal["title", "body"] = "title", meta: dict[str, str] | None = None) -> str:
        return kind

    assert label.parameters["properties"]["kind"] == {
        "type": "string",
        "enum": ["title", "body"],
        "default": "title",
    }


def test_private_parameter_names_are_refused() -> None:
    def hidden(_secret: int) -> int:
        return _secret

    with pytest.raises(ToolDefinitionError, match="cannot start with '_'"):
        tool(hidden)


def test_an_async_function_behind_a_sync_wrapper_is_still_async() -> None:
    import functools

    async def fetch(url: str) -> str:
        return url

    @functools.wraps(fetch)
    def traced(*args: Any, **kwargs: Any) -> Any:
        return fetch(*args, **kwargs)

    wrapped = tool(traced)
    assert wrapped.is_async
    assert anyio.run(lambda: wrapped.invoke({"url": "u"})) == "u"


def test_a_context_parameter_is_injected_and_left_out_of_the_schema() -> None:
    seen: list[ToolContext] = []

    @tool
    async def whoami(context: ToolContext, greeting: str) -> str:
        seen.append(context)
        return f"{greeting} from {context.run_id or 'nowhere'}"

    assert whoami.context_parameter == "context"
    assert list(whoami.parameters["properties"]) == ["greeting"]
    assert whoami.parse_arguments('{"greeting": "hi"}') == {"greeting": "hi"}
    with pytest.raises(ToolArgumentsError, match="context: Extra inputs"):
        whoami.parse_arguments('{"greeting": "hi", "context": {}}')
    clock = FakeClock(start=100)
    given = ToolContext(tool_name="whoami", run_id="run_1", stop_at=130, clock=clock)
    assert anyio.run(lambda: whoami.invoke({"greeting": "hi"}, context=given)) == "hi from run_1"
    assert anyio.run(lambda: whoami.invoke({"greeting": "yo"})) == "yo from nowhere"
    assert seen[0] is given and seen[1] == ToolContext(tool_name="whoami")


def test_time_left_counts_down_on_the_runners_clock() -> None:
    clock = FakeClock(start=100)
    context = ToolContext(tool_name="t", stop_at=130, clock=clock)
    assert context.time_left() == 30
    clock.advance(45)
    assert context.time_left() == 0
    assert ToolContext(tool_name="t").time_left() is None


def test_options_reach_the_tool() -> None:
    registry = ToolRegistry(max_output_chars=500)

    @registry.tool(on_error="cancel", max_output_chars=300, max_concurrency=2)
    def guarded() -> str:
        return ""

    @registry.tool
    def relaxed() -> str:
        return ""

    assert (guarded.on_error, guarded.max_concurrency) == ("cancel", 2)
    assert relaxed.on_error == "return" and relaxed.limiter() is None
    assert registry.output_limit("guarded") == 300
    assert registry.output_limit("relaxed") == registry.output_limit("unknown") == 500
    assert ToolRegistry().max_output_chars == DEFAULT_MAX_OUTPUT_CHARS
    with pytest.raises(UsageError, match="at least 200"):
        ToolRegistry(max_output_chars=199)


def test_the_concurrency_limiter_is_created_once_in_the_event_loop() -> None:
    @tool(max_concurrency=3)
    async def limited() -> str:
        return ""

    async def limiter_twice() -> bool:
        first = limited.limiter()
        return first is limited.limiter() and first is not None and first.total_tokens == 3

    assert anyio.run(limiter_twice)


def test_non_strict_schemas_for_common_parameter_kinds() -> None:
    @tool
    def book(
        seats: Annotated[int, Field(ge=1, le=9)],
        guest: Address,
        note: str | None = None,
        cabin: Literal["economy", "business"] = "economy",
    ) -> str:
        """Book a flight."""
        return ""

    properties = book.parameters["properties"]
    assert properties["seats"] == {"type": "integer", "minimum": 1, "maximum": 9}
    assert properties["guest"] == {"$ref": "#/$defs/Address"}
    assert properties["note"] == {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None}
    assert book.parameters["required"] == ["seats", "guest"]
    assert book.parse_arguments('{"seats": 2, "guest": {"street": "s", "zip_code": "z"}}') == {
        "seats": 2,
        "guest": Address(street="s", zip_code="z"),
        "note": None,
        "cabin": "economy",
    }
