"""Routes only Azure AI Foundry's agents API has (mounted under `/api/projects/{project}`).

- `GET /threads`: the project's threads (those made under its `/api/projects/{p}`), newest
  first, paged like every list (`limit`, `order`, `after`, `before`); azure-ai-agents'
  `threads.list`. OpenAI never had it.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .engine import RunEngine
from .records import Thread
from .routing import endpoint, page

__all__ = ["foundry_routes"]


async def list_threads(request: Request, engine: RunEngine) -> Response:
    return page(request, engine, Thread, request.path_params["project"])


def foundry_routes() -> list[Route]:
    """The Foundry-only routes, without a prefix."""
    return [Route("/threads", endpoint(list_threads), methods=["GET"])]
