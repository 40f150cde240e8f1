"""End-to-end fixtures: the real openai client, the real server app, in one process."""

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest
from openai import AsyncOpenAI

from runflow.testing import FakeClock
from runflow_server import Scenario, create_app


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Server:
    """The app, a client bound to it, and the requests the client made."""

    def __init__(self, steps: list[dict[str, Any]], clock: FakeClock | None) -> None:
        scenario = Scenario.model_validate({"name": "test", "steps": steps})
        self.app = create_app(scenario=scenario, clock=clock)
        self.requests: list[str] = []

        async def record(request: httpx2.Request) -> None:
            self.requests.append(f"{request.method} {request.url.path}")

        http_client = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.app),
            base_url="http://runflow.test",
            event_hooks={"request": [record]},
        )
        self.client = AsyncOpenAI(
            base_url="http://runflow.test/v1",
            api_key="test",
            http_client=http_client,
            max_retries=0,
        )

    async def assistant_and_thread(self, question: str = "hi") -> tuple[str, str]:
        assistant = await self.client.beta.assistants.create(model="gpt-4o", name="tester")
        thread = await self.client.beta.threads.create(
            messages=[{"role": "user", "content": question}]
        )
        self.requests.clear()
        return assistant.id, thread.id


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
