"""Attribute filters of a search (`ComparisonFilter`, `CompoundFilter`), parsed and evaluated.

A comparison on a key the file does not have is false, except `ne` and `nin`, which are true.
`gt` / `gte` / `lt` / `lte` compare numbers with numbers and strings with strings; across
types they are false. `in` / `nin` take a list.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["ComparisonFilter", "CompoundFilter", "Filter", "matches"]

Value = str | float | bool


class ComparisonFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin"]
    key: str
    value: Value | list[str | float]


class CompoundFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["and", "or"]
    filters: list[Annotated[ComparisonFilter | CompoundFilter, Field(union_mode="left_to_right")]]


Filter = ComparisonFilter | CompoundFilter


def matches(rule: Filter, attributes: dict[str, Value]) -> bool:
    """Whether a file with these attributes passes the filter."""
    if isinstance(rule, CompoundFilter):
        results = (matches(inner, attributes) for inner in rule.filters)
        return all(results) if rule.type == "and" else any(results)
    if rule.key not in attributes:
        return rule.type in ("ne", "nin")
    return _compare(rule.type, attributes[rule.key], rule.value)


def _same_kind(left: object, right: object) -> bool:
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool)
    numbers = (int, float)
    return (isinstance(left, numbers) and isinstance(right, numbers)) or (
        isinstance(left, str) and isinstance(right, str)
    )


def _compare(op: str, have: Value, want: Value | list[str | float]) -> bool:
    if op in ("in", "nin"):
        found = isinstance(want, list) and any(
            _same_kind(have, item) and have == item for item in want
        )
        return found if op == "in" else not found
    if isinstance(want, list) or not _same_kind(have, want):
        return op == "ne"
    if op == "eq":
        return have == want
    if op == "ne":
        return have != want
    if isinstance(have, bool) or isinstance(want, bool):
        return False
    left, right = have, want
    return {
        "gt": left > right,  # type: ignore[operator]
        "gte": left >= right,  # type: ignore[operator]
        "lt": left < right,  # type: ignore[operator]
        "lte": left <= right,  # type: ignore[operator]
    }[op]
