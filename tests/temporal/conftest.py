"""Fixtures of the Temporal tests: one Temporal dev server and one run server (loopback HTTP)
for the whole session, a fresh task queue, client and assistant per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from openai import AsyncOpenAI
from temporalio.testing import WorkflowEnvironment

from tests.temporal.support import run_server, start_dev_server


@pytest.fixture(scope="session")
async def temporal() -> AsyncIterator[WorkflowEnvironment]:
    env = await start_dev_server()
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    with run_server() as url:
        yield url


@pytest.fixture
async def openai_client(server_url: str) -> AsyncIterator[AsyncOpenAI]:
    client = AsyncOpenAI(base_url=f"{server_url}/v1", api_key="test", max_retries=0)
    yield client
    await client.close()


@pytest.fixture
def task_queue() -> str:
    return f"runs-{uuid.uuid4().hex[:8]}"


async def assistant_and_thread(client: AsyncOpenAI, scenario: str) -> tuple[str, str]:
    """An assistant following `scenario` (tests/temporal/support.py) and a new thread."""
    assistant = await client.beta.assistants.create(
        model="gpt-4o", name=scenario, metadata={"scenario": scenario}
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    return assistant.id, thread.id
