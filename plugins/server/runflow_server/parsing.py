"""JSON request bodies in, API errors out: the parsing half of `bodies.py`.

`load_json` reads standard JSON only, or raises a 400 at parse time, so nothing is stored that
cannot be served back: `NaN`, `Infinity` and `-Infinity` (which Python's `json` would take),
numbers too large for a float (`1e999`) and nesting deeper than `MAX_JSON_DEPTH` levels of
arrays and objects are refused, never a `RecursionError` (a body of 100,000 `[`).

`validation_error` turns a pydantic error into the API's 400, naming the parameter
(`tools[0].function.name`) and using the hosted API's texts: `Missing required parameter`,
`Unrecognized request argument supplied`, `string too long` (code `string_above_max_length`),
and for a number out of range `Invalid 'max_prompt_tokens': integer below minimum value.
Expected a value >= 256, but got 10 instead.` (code `integer_below_min_value`; also
`integer_above_max_value`, `decimal_below_min_value`, `decimal_above_max_value`).
"""

from __future__ import annotations

import json
import math
from typing import Any

from pydantic import ValidationError

from .errors import APIError, bad_request

__all__ = ["MAX_JSON_DEPTH", "load_json", "validation_error"]

MAX_JSON_DEPTH = 64  # arrays and objects inside each other, the body itself included


class _NotStandard(ValueError):
    """A value Python's `json` reads but JSON has not: NaN, Infinity, a float out of range."""


def _constant(name: str) -> Any:
    raise _NotStandard(name)


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStandard(text)
    return value


def _depth_over(data: Any, most: int) -> bool:
    """Whether arrays and objects nest more than `most` levels deep (walked without recursion)."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, list):
            continue
        if depth > most:
            return True
        stack.extend((child, depth + 1) for child in node)
    return False


def load_json(raw: bytes | str) -> Any:
    """Standard JSON, at most `MAX_JSON_DEPTH` levels deep, or a 400 `APIError`."""
    try:
        data = json.loads(raw, parse_constant=_constant, parse_float=_finite)
    except _NotStandard as exc:
        raise bad_request(
            f"We could not parse the JSON body of your request: {str(exc)[:32]} is not a JSON"
            " number. The OpenAI API expects a JSON payload, but what was sent was not valid JSON."
        ) from exc
    except RecursionError as exc:
        raise _too_deep() from exc
    except ValueError as exc:
        raise bad_request(
            "We could not parse the JSON body of your request. The OpenAI API expects a JSON"
            " payload, but what was sent was not valid JSON."
        ) from exc
    if _depth_over(data, MAX_JSON_DEPTH):
        raise _too_deep()
    return data


def _too_deep() -> APIError:
    return bad_request(
        f"The JSON body of your request is nested too deeply: at most {MAX_JSON_DEPTH} levels of"
        " arrays and objects."
    )


def validation_error(exc: ValidationError, data: dict[str, Any]) -> APIError:
    """A pydantic error as the API's 400, naming the parameter as the API does."""
    errors = exc.errors(include_url=False)
    # Of the first field's errors, the one reaching deepest into the request: a union (a
    # message's `content`, string or parts) reports every member it tried, and the member
    # that fits the request's shape says what is really wrong (`content[1].text`).
    field = [error for error in errors if error["loc"][:1] == errors[0]["loc"][:1]]
    param, error = max(
        ((_param_path(error["loc"], data), error) for error in field),
        key=lambda found: len(found[0]),
    )
    kind = error["type"]
    if kind == "missing":
        return bad_request(f"Missing required parameter: '{param}'.", param=param)
    if kind == "extra_forbidden":
        return bad_request(f"Unrecognized request argument supplied: {param}", param=param)
    if kind == "string_too_long":
        most, got = error.get("ctx", {}).get("max_length"), len(error["input"])
        return bad_request(
            f"Invalid '{param}': string too long. Expected a string with maximum length {most},"
            f" but got a string with length {got} instead.",
            param=param,
            code="string_above_max_length",
        )
    bound = _out_of_range(param, error)
    if bound is not None:
        return bound
    reason = error["msg"].removeprefix("Value error, ")
    return bad_request(f"Invalid value for '{param}': {reason}.", param=param)


_BOUNDS = {
    "greater_than_equal": ("below minimum", ">=", "ge", "below_min"),
    "less_than_equal": ("above maximum", "<=", "le", "above_max"),
}


def _out_of_range(param: str, error: Any) -> APIError | None:
    """A number outside a field's bounds, in the hosted API's words."""
    found = _BOUNDS.get(error["type"])
    if found is None:
        return None
    where, sign, key, code = found
    value, limit = error["input"], error["ctx"][key]
    kind = "decimal" if isinstance(limit, float) else "integer"  # float fields have float bounds
    if isinstance(limit, float) and limit.is_integer():
        limit = int(limit)
    shown = str(value) if len(str(value)) <= 40 else str(value)[:40] + "..."
    return bad_request(
        f"Invalid '{param}': {kind} {where} value. Expected a value {sign} {limit},"
        f" but got {shown} instead.",
        param=param,
        code=f"{kind}_{code}_value",
    )


def _param_path(loc: tuple[int | str, ...], data: Any) -> str:
    """`tools.0.function.function.name` -> `tools[0].function.name`.

    pydantic puts the member it tried of a union into `loc` (a tag, a type name); walking the
    request alongside keeps only the parts that are really keys and indexes of it.
    """
    path, node = "", data
    for position, part in enumerate(loc):
        last = position == len(loc) - 1
        if isinstance(node, list) and isinstance(part, int) and part < len(node):
            path, node = f"{path}[{part}]", node[part]
        elif isinstance(node, dict) and (part in node or last):
            path, node = (f"{path}.{part}" if path else str(part)), node.get(part)
    return path
