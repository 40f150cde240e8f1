"""What every route shares: the engine handed to each handler (`endpoint`), records rendered
for the request's view (`respond`), list pages (`page`; `page_of` for lists held in memory) and
deletions (`delete`).

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
from .errors import APIError, bad_request
from .objects import deleted_object, page_object
from .records import Record
from .views import view_of

__all__ = ["Handler", "delete", "endpoint", "page", "page_of", "respond", "unknown_cursor"]

Handler = Callable[[Request, RunEngine], Awaitable[Response]]


def endpoint(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """The Starlette endpoint calling `handler(request, engine)`."""

    async def run(request: Request) -> Response:
        engine: RunEngine = request.app.state.engine
        engine.start()
        return await handler(request, engine)

    return run


def respond(request: Request, record: Record, headers: dict[str, str] | None = None) -> Response:
    """A route's answer: the record as the request's view (`views.View`) shapes it."""
    return JSONResponse(record.to_wire(view_of(request.scope)), headers=headers)


def page(
    request: Request,
    engine: RunEngine,
    cls: type[Record],
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
    limit, direction = _limit_and_order(request, most=most, default=default)
    try:
        page = engine.store.page(
            cls,
            parent,
            limit=limit,
            order=direction,
            after=query.get("after"),
            before=query.get("before"),
            filters=filters,
        )
    except KeyError as exc:
        raise unknown_cursor(exc.args[0]) from exc
    view = view_of(request.scope)
    data = [record.to_wire(view) for record in page.data]
    if render is not None:
        data = [render(item) for item in data]
    return JSONResponse(page_object(data, has_more=page.has_more))


def page_of(request: Request, oldest_first: list[dict[str, Any]]) -> Response:
    """A list response over objects held in memory (oldest first), paged as `page` pages the
    store: `limit` (1 to 100, 20), `order` (desc), `after`, `before` naming objects of the list."""
    query = request.query_params
    limit, direction = _limit_and_order(request, most=100, default=20)
    items = oldest_first if direction == "asc" else oldest_first[::-1]
    ids = [item["id"] for item in items]
    start, end = 0, len(items)
    for name in ("after", "before"):
        cursor = query.get(name)
        if cursor is None:
            continue
        if cursor not in ids:
            raise unknown_cursor(name)
        if name == "after":
            start = max(start, ids.index(cursor) + 1)
        else:
            end = min(end, ids.index(cursor))
    if query.get("before") is not None and query.get("after") is None:
        data, has_more = items[max(start, end - limit) : end], end - limit > start
    else:
        data, has_more = items[start : min(end, start + limit)], start + limit < end
    return JSONResponse(page_object(data, has_more=has_more))


def unknown_cursor(name: str) -> APIError:
    """400 for an `after` / `before` naming no object of the list."""
    return bad_request(f"Invalid '{name}': no such object in this list.", param=name)


def _limit_and_order(
    request: Request, *, most: int, default: int
) -> tuple[int, Literal["asc", "desc"]]:
    query = request.query_params
    limit = _limit(query.get("limit"), most=most, default=default)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("Invalid 'order': expected 'asc' or 'desc'.", param="order")
    return limit, "asc" if order == "asc" else "desc"


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


def delete(engine: RunEngine, record: Record) -> Response:
    """Delete a record (and what lives under it); answer as the API: `{id, object, deleted}`."""
    engine.store.delete(record.kind, record.id)
    return JSONResponse(deleted_object(record))
