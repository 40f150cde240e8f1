"""End-to-end fixtures: the real openai client, the real server app, in one process."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from runflow.testing import FakeClock, LocalServer


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Server(LocalServer):
    """The app, a client bound to it, and the requests the client made."""

    def __init__(self, steps: list[dict[str, Any]], clock: FakeClock | None) -> None:
        super().__init__(steps, clock=clock)


ServerFactory = Callable[..., Server]


@pytest.fixture
async def make_server() -> AsyncIterator[ServerFactory]:
    servers: list[Server] = []

    def make(steps: list[dict[str, Any]], clock: FakeClock | None = None) -> Server:
        servers.append(Server(steps, clock))
        return servers[-1]

    yield make
    for server in servers:
        await server.client.close()
