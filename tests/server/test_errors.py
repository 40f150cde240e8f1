"""The error boundary: the app's exception handlers answer every error in the API's shape."""

from __future__ import annotations

import httpx2
import openai
import pytest

from runflow_server import create_app
from runflow_server.lifecycle import IllegalTransition

pytestmark = pytest.mark.anyio


async def test_an_api_error_is_the_hosted_apis_shape(client: openai.AsyncOpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as raised:
        await client.beta.threads.retrieve("thread_missing")
    assert raised.value.body == {
        "message": "No thread found with id 'thread_missing'.",
        "type": "invalid_request_error",
        "param": None,
        "code": None,
    }


def broken_app() -> object:
    """An app whose thread lookup hits a bug: the lifecycle refuses a transition."""
    app = create_app()

    def illegal(thread_id: str) -> object:
        raise IllegalTransition("a bug: completed -> in_progress")

    app.state.engine.thread = illegal
    return app


async def test_a_bug_is_a_500_server_error_and_reaches_the_asgi_server() -> None:
    app = broken_app()
    transport = httpx2.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
        client = openai.AsyncOpenAI(
            base_url="http://testserver/v1", api_key="k", http_client=http, max_retries=0
        )
        with pytest.raises(openai.InternalServerError) as raised:
            await client.beta.threads.retrieve("thread_x")
    assert raised.value.status_code == 500
    assert raised.value.body == {
        "message": "The server had an error processing your request.",
        "type": "server_error",
        "param": None,
        "code": None,
    }
    # Starlette re-raises it after answering, for the ASGI server to log with its traceback.
    async with httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app), base_url="http://testserver"
    ) as http:
        with pytest.raises(IllegalTransition, match="a bug"):
            await http.get("/v1/threads/thread_x")
