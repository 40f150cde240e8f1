"""The playground: a static web page, served by the run server, to try assistants in a browser.

`mount(app)` serves the files of `static/` at `/playground/` and redirects `/` there. The page
is plain HTML, CSS and ES modules (nothing to build, nothing fetched from elsewhere); it calls
the same `/v1` JSON API as any client, with the key the user types in (kept in the tab's
`sessionStorage`). The page itself is public (`is_public`), so that it can ask for that key;
every API call it makes is checked like any other.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["PREFIX", "STATIC", "is_public", "mount"]

PREFIX = "/playground"
STATIC = Path(__file__).parent / "static"


def mount(app: Starlette) -> None:
    """Serve the playground at `/playground/`, and redirect `/` to it."""
    app.router.routes.append(Mount(PREFIX, StaticFiles(directory=STATIC, html=True)))
    app.router.routes.append(Route("/", _to_playground, methods=["GET", "HEAD"]))


def is_public(method: str, path: str) -> bool:
    """Whether a request is for the page itself (readable without the API key)."""
    if method not in ("GET", "HEAD"):
        return False
    return path == "/" or path == PREFIX or path.startswith(PREFIX + "/")


async def _to_playground(request: Request) -> Response:
    return RedirectResponse(PREFIX + "/", status_code=307)
