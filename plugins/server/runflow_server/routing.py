"""What every route shares: the engine handed to each handler (`endpoint`) and list pages (`page`).

`endpoint` gives a handler the app's engine, and lets the engine pick up, on first use, the runs
a previous server left on its database (the in-process ASGI transport runs no lifespan). Errors
are not caught here: a handler raises `APIError` at the boundary and the app's exception
handlers (`errors.exception_handlers`) answer it in the API's error shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .engine import RunEngine
from .errors import bad_request
from .objects import deleted_object, page_object
from .store import Kind

__all__ = ["Handler", "delete", "endpoint", "page"]

Handler = Callable[[Request, RunEngine], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint calling `handler(request, engine)`."""

    async def run(request: Request) -> Response:
        engine: RunEngine = request.app.state.engine
        engine.start()
        return await handler(request, engine)

    return run


def page(
    request: Request,
    engine: RunEngine,
    kind: Kind,
    parent: str | None,
    filters: dict[str, str] | None = None,
    *,
    most: int = 100,
    default: int = 20,
    render: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> Response:
    """A list response: `limit` (1 to `most`, `default`), `order` (desc), `after`, `before`;
    `render` shapes each object for this request."""
    query = request.query_params
    limit = _limit(query.get("limit"), most=most, default=default)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("Invalid 'order': expected 'asc' or 'desc'.", param="order")
    direction: Literal["asc", "desc"] = "asc" if order == "asc" else "desc"
    try:
        page = engine.store.page(
            kind,
            parent,
            limit=limit,
            order=direction,
            after=query.get("after"),
            before=query.get("before"),
            filters=filters,
        )
    except KeyError as exc:
        name = exc.args[0]
        raise bad_request(f"Invalid '{name}': no such object in this list.", param=name) from exc
    data = page.data if render is None else [render(obj) for obj in page.data]
    return JSONResponse(page_object(data, has_more=page.has_more))


def _limit(text: str | None, *, most: int, default: int) -> int:
    """`limit`: ASCII digits only (not `+5`, ` 5` or `٣`, which `int()` would take), 1 to `most`."""
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or len(text) > 6:
        raise bad_request(
            f"Invalid 'limit': expected an integer from 1 to {most}, got '{text[:20]}'.",
            param="limit",
            code="invalid_type",
        )
    value = int(text)
    if value < 1:
        raise bad_request(
            f"Invalid 'limit': integer below minimum value. Expected a value >= 1, but got"
            f" {value} instead.",
            param="limit",
            code="integer_below_min_value",
        )
    if value > most:
        raise bad_request(
            f"Invalid 'limit': integer above maximum value. Expected a value <= {most}, but got"
            f" {value} instead.",
            param="limit",
            code="integer_above_max_value",
        )
    return value


def delete(engine: RunEngine, kind: Kind, obj: dict[str, Any]) -> Response:
    """Delete an object (and what lives under it); answer as the API: `{id, object, deleted}`."""
    engine.store.delete(kind, obj["id"])
    return JSONResponse(deleted_object(obj))
