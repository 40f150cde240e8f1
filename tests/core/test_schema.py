"""Parameter schemas: strict ones follow the Structured Outputs subset, and what they allow
still validates."""

import datetime
import enum
import json
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from runflow import ToolArgumentsError, ToolDefinitionError, tool
from runflow._schema import STRICT_FORMATS

RECORDINGS = Path("/work/shared/fixtures/openai-recordings/chat-tools")
ALLOWED_KEYWORDS = {
    *("type", "description", "properties", "required", "additionalProperties", "items"),
    *("anyOf", "enum", "$ref", "$defs", "pattern", "format", "multipleOf"),
    *("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minItems", "maxItems"),
}


def assert_strict(schema: Any) -> None:
    """Every node only uses the strict subset; every object is closed and fully required."""
    if isinstance(schema, list):
        for item in schema:
            assert_strict(item)
        return
    assert isinstance(schema, dict)
    assert set(schema) <= ALLOWED_KEYWORDS, set(schema) - ALLOWED_KEYWORDS
    if schema.get("type") == "object":
        assert schema["additionalProperties"] is False
        assert schema["required"] == list(schema["properties"])
    if "format" in schema:
        assert schema["format"] in STRICT_FORMATS
    for key in ("properties", "$defs"):
        for sub in schema.get(key, {}).values():
            assert_strict(sub)
    for key in ("items", "anyOf"):
        if key in schema:
            assert_strict(schema[key])


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Item(BaseModel):
    """One line of an order."""

    sku: str = Field(description="Stock keeping unit", min_length=3)
    quantity: int = Field(1, ge=1)
    color: Color | None = None


class Cat(BaseModel):
    kind: Literal["cat"]
    lives: int = 9


class Dog(BaseModel):
    kind: Literal["dog"]
    good: bool


class Folder(BaseModel):
    name: str
    parent: "Folder | None" = Field(None, description="The enclosing folder")
    children: list["Folder"] = []


@tool(strict=True)
def place_order(
    items: list[Item],
    pet: Annotated[Cat | Dog, Field(discriminator="kind")],
    folder: Annotated[Folder, Field(description="Where to file it")],
    when: datetime.date,
    note: str | None,
    priority: Literal["low", "high"] = "low",
    tags: Annotated[frozenset[str], Field(max_length=5)] = frozenset(),
    website: Annotated[str, Field(json_schema_extra={"format": "uri"})] = "",
    copies: int = 1,
) -> str:
    """Place an order.

    Args:
        items: What to order.
        copies: How many copies of the invoice.
    """
    return "ok"


def test_a_strict_schema_uses_only_the_subset_the_api_accepts() -> None:
    assert place_order.definition()["function"].get("strict") is True
    assert_strict(place_order.parameters)


def test_every_parameter_is_required_and_defaults_move_to_the_description() -> None:
    parameters = place_order.parameters
    assert parameters["required"] == list(parameters["properties"])
    assert parameters["properties"]["copies"] == {
        "type": "integer",
        "description": "How many copies of the invoice. (default: 1)",
    }
    assert parameters["properties"]["priority"] == {
        "type": "string",
        "enum": ["low", "high"],
        "description": '(default: "low")',
    }
    assert parameters["properties"]["website"]["description"] == '(default: ""; format: uri)'


def test_nested_models_are_closed_and_optional_fields_are_nullable_and_required() -> None:
    item = place_order.parameters["$defs"]["Item"]
    assert item["additionalProperties"] is False
    assert item["required"] == ["sku", "quantity", "color"]
    assert item["properties"]["color"] == {"anyOf": [{"$ref": "#/$defs/Color"}, {"type": "null"}]}
    assert item["properties"]["sku"]["description"] == "Stock keeping unit (minLength: 3)"
    assert place_order.parameters["properties"]["note"] == {
        "anyOf": [{"type": "string"}, {"type": "null"}]
    }


def test_unions_consts_and_described_refs_are_rewritten() -> None:
    properties = place_order.parameters["properties"]
    assert properties["pet"] == {"anyOf": [{"$ref": "#/$defs/Cat"}, {"$ref": "#/$defs/Dog"}]}
    assert place_order.parameters["$defs"]["Cat"]["properties"]["kind"] == {
        "type": "string",
        "enum": ["cat"],
    }
    folder = properties["folder"]  # a $ref with a description: inlined
    assert folder["description"] == "Where to file it"
    assert folder["required"] == ["name", "parent", "children"]
    assert folder["properties"]["children"]["items"] == {"$ref": "#/$defs/Folder"}


def test_what_the_strict_schema_allows_validates() -> None:
    arguments = {
        "items": [{"sku": "abc", "quantity": 2, "color": None}],
        "pet": {"kind": "dog", "good": True},
        "folder": {"name": "f", "parent": None, "children": []},
        "when": "2025-09-16",
        "note": None,
        "priority": "high",
        "tags": ["a"],
        "website": "https://example.com",
        "copies": 3,
    }
    parsed = place_order.parse_arguments(json.dumps(arguments))
    assert parsed["note"] is None  # null is the value None, never "use the default"
    assert parsed["items"] == [Item(sku="abc", quantity=2, color=None)]
    assert parsed["pet"] == Dog(kind="dog", good=True)
    assert parsed["when"] == datetime.date(2025, 9, 16)


def test_hints_moved_to_the_description_are_still_validated() -> None:
    arguments = {
        "items": [{"sku": "ab", "quantity": 1, "color": None}],
        "pet": {"kind": "cat", "lives": 9},
        "folder": {"name": "f", "parent": None, "children": []},
        "when": "2025-09-16",
        "note": "n",
        "priority": "low",
        "tags": ["a", "b", "c", "d", "e", "f"],
        "website": "",
        "copies": 1,
    }
    with pytest.raises(
        ToolArgumentsError, match=r"items\.0\.sku: String should have at least 3"
    ) as info:
        place_order.parse_arguments(json.dumps(arguments))
    assert "tags: Frozenset should have at most 5 items" in str(info.value)


def test_the_schema_the_recorded_api_accepted_is_what_a_strict_tool_sends() -> None:
    recording = json.loads((RECORDINGS / "StructuredOutputs(WithSchema,Strict).json").read_text())
    [accepted] = recording["Entries"][0]["RequestBody"]["tools"]

    @tool(strict=True)
    def get_favorite_color_for_day_of_week(the_day_of_the_week: str) -> str:
        """Given a weekday name like Tuesday, gets the favorite color of the user on that day."""
        return "blue"

    assert recording["Entries"][0]["StatusCode"] == 200
    assert get_favorite_color_for_day_of_week.definition() == accepted


def test_the_non_strict_schema_keeps_defaults_and_constraints() -> None:
    @tool
    def search(query: Annotated[str, Field(min_length=2)], color: Color = Color.RED) -> str:
        return query

    assert search.parameters["properties"]["query"] == {"type": "string", "minLength": 2}
    assert search.parameters["properties"]["color"] == {"$ref": "#/$defs/Color", "default": "red"}
    assert search.parameters["required"] == ["query"]


class Tagged(BaseModel):
    labels: dict[str, str]


def free_map(counts: dict[str, int]) -> str:
    return ""


def nested_map(order: Tagged) -> str:
    return ""


def anything(value: Any) -> str:
    return ""


def pair(point: tuple[int, int]) -> str:
    return ""


@pytest.mark.parametrize(
    ("function", "message"),
    [
        pytest.param(free_map, r"a free-form map \(dict\) \(at counts\)", id="dict"),
        pytest.param(nested_map, r"a free-form map \(dict\) \(at Tagged.labels\)", id="nested"),
        pytest.param(anything, r"a value of any type \(Any\) \(at value\)", id="any"),
        pytest.param(pair, r"a tuple \(at point\)", id="tuple"),
    ],
)
def test_what_strict_cannot_express_fails_at_registration(function: Any, message: str) -> None:
    with pytest.raises(ToolDefinitionError, match=f"strict schema cannot express {message}"):
        tool(strict=True)(function)
    tool(function)  # fine without strict


def test_a_type_pydantic_cannot_describe_fails_at_registration() -> None:
    class Opaque:
        pass

    def handle(thing: Opaque) -> str:
        return ""

    with pytest.raises(ToolDefinitionError, match="tool 'handle'"):
        tool(handle)
