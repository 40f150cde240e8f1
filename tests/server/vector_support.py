"""Shared by the file search tests: a strict client on a server whose `FileSearch` is known."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
import openai
from starlette.applications import Starlette

from runflow.testing import FakeClock
from runflow_server.file_search import Embedder, FileSearch

from .conftest import Server


@dataclass
class Search:
    """The app, a strict client (the SDK validates every response), the file search service."""

    app: Starlette
    client: openai.AsyncOpenAI
    service: FileSearch

    async def upload(self, name: str, content: str | bytes) -> str:
        data = content.encode() if isinstance(content, str) else content
        uploaded = await self.client.files.create(file=(name, data), purpose="assistants")
        return uploaded.id


async def open_search(
    server: Server, clock: FakeClock, embedder: Embedder | None = None, **options: object
) -> Search:
    app, _, http = await server.open(clock=clock, **options)
    service = FileSearch(app.state.engine.store, clock.now, embedder)
    app.state.file_search = service
    server._stack.push_async_callback(service.aclose)
    client = openai.AsyncOpenAI(
        base_url="http://testserver/v1",
        api_key="test",
        http_client=http,
        max_retries=0,
        _strict_response_validation=True,
    )
    return Search(app, client, service)


def embeddings_client(app: Starlette) -> openai.AsyncOpenAI:
    """A client for an embeddings app in this process."""
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://emb")
    return openai.AsyncOpenAI(base_url="http://emb/v1", api_key="x", http_client=http)
