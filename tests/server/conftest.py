"""Fixtures: the real server app, in-process (`runflow.testing.LocalServer`), behind the real
`openai.AsyncOpenAI` client; a raw `httpx2` client (`http`) for what the SDK cannot send."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import openai
import pytest
from starlette.applications import Starlette

from runflow.testing import FakeClock, LocalServer
from tests.conftest import check_consumed

START = 1_761_861_530.0


@pytest.fixture
async def clock() -> FakeClock:
    return FakeClock(start=START)


class Server:
    """Opens apps for a test (other scenarios, other clocks), closed when it ends."""

    def __init__(self) -> None:
        self.opened: list[LocalServer] = []

    async def open(
        self, **options: Any
    ) -> tuple[Starlette, openai.AsyncOpenAI, httpx2.AsyncClient]:
        """A `create_app(**options)` app, its `openai` client (which sends the key "test",
        whatever `api_key` the server has) and a raw client (which sends no key)."""
        local = LocalServer(client_key="test", origin="http://testserver", **options)
        self.opened.append(local)
        return local.app, local.client, local.http


@pytest.fixture
async def server(request: pytest.FixtureRequest) -> AsyncIterator[Server]:
    """Every app it opened must have played the scripted steps it started to the end, unless
    the test is marked `leaves_steps` (see tests/conftest.py)."""
    opened = Server()
    try:
        yield opened
    finally:
        for local in reversed(opened.opened):
            await local.aclose()
    check_consumed(request, opened.opened)


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
