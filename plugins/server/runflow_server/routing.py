"""What every route shares: the engine handed to each handler (`endpoint`), records rendered
for the request's view (`respond`), list pages (`page`) and deletions (`delete`).

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
from .records import Record
from .views import view_of

__all__ = ["Handler", "delete", "endpoint", "page", "respond"]

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
    limit = _limit(query.get("limit"), most=most, default=default)
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise bad_request("Invalid 'order': expected 'asc' or 'desc'.", param="order")
    direction: Literal["asc", "desc"] = "asc" if order == "asc" else "desc"
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
        name = exc.args[0]
        raise bad_request(f"Invalid '{name}': no such object in this list.", param=name) from exc
    view = view_of(request.scope)
    data = [record.to_wire(view) for record in page.data]
    if render is not None:
        data = [render(item) for item in data]
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


def delete(engine: RunEngine, record: Record) -> Response:
    """Delete a record (and what lives under it); answer as the API: `{id, object, deleted}`."""
    engine.store.delete(record.kind, record.id)
    return JSONResponse(deleted_object(record))
