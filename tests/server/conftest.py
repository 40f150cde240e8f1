"""Fixtures: the real server app, in-process, behind the real `openai.AsyncOpenAI` client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import httpx2
import openai
import pytest
from starlette.applications import Starlette

from runflow.testing import FakeClock
from runflow_server import create_app

START = 1_761_861_530.0


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock(start=START)


class Server:
    """An app plus clients for it; `open()` makes more apps (other scenarios, other clocks)."""

    def __init__(self, stack: AsyncExitStack) -> None:
        self._stack = stack

    async def open(
        self, **options: Any
    ) -> tuple[Starlette, openai.AsyncOpenAI, httpx2.AsyncClient]:
        app = create_app(**options)
        self._stack.push_async_callback(app.state.engine.aclose)
        http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
        )
        await self._stack.enter_async_context(http)
        client = openai.AsyncOpenAI(
            base_url="http://testserver/v1", api_key="test", http_client=http, max_retries=0
        )
        return app, client, http


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    async with AsyncExitStack() as stack:
        yield Server(stack)


@pytest.fixture
async def app_client(
    server: Server, clock: FakeClock
) -> tuple[Starlette, openai.AsyncOpenAI, httpx2.AsyncClient]:
    """The default app: no scenario (DefaultBrain), a fake clock."""
    return await server.open(clock=clock)


@pytest.fixture
def client(
    app_client: tuple[Starlette, openai.AsyncOpenAI, httpx2.AsyncClient],
) -> openai.AsyncOpenAI:
    return app_client[1]


@pytest.fixture
def http(
    app_client: tuple[Starlette, openai.AsyncOpenAI, httpx2.AsyncClient],
) -> httpx2.AsyncClient:
    return app_client[2]


@pytest.fixture
def settle(
    app_client: tuple[Starlette, openai.AsyncOpenAI, httpx2.AsyncClient],
) -> Callable[[], Any]:
    """`await settle()`: wait until the app's background runs come to rest."""
    return app_client[0].state.engine.wait_until_settled
