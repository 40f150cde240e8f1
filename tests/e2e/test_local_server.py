"""`runflow.testing.LocalServer`: a scripted conversation left short fails the test that left it."""

import openai
import pytest

from runflow import Runner, ToolRegistry
from runflow.testing import LocalServer

pytestmark = pytest.mark.anyio

STEPS = [
    {"tool_calls": [{"name": "ping", "arguments": {}}]},
    {"message": "first: {outputs}"},
    {"message": "second"},
]


def ping_tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def ping() -> str:
        """Answer."""
        return "pong"

    return registry


async def test_assert_consumed_names_each_thread_and_the_steps_it_left() -> None:
    async with LocalServer(STEPS) as server:
        server.assert_consumed()  # no thread played yet: nothing is left over
        assistant_id, thread_id = await server.assistant_and_thread()
        runner = Runner(server.client, ping_tools())
        await runner.run(thread_id=thread_id, assistant_id=assistant_id)

        with pytest.raises(AssertionError) as raised:
            server.assert_consumed()
        assert str(raised.value) == (
            f"Scenario 'test' has 3 steps, but {thread_id} played 2, left 3 (message)."
        )

        await runner.run(thread_id=thread_id, assistant_id=assistant_id)  # the second answer
        server.assert_consumed()


async def test_the_server_key_is_what_its_client_sends_unless_told_otherwise() -> None:
    async with LocalServer(api_key="s3cret") as keyed:
        assert (await keyed.client.beta.assistants.list()).data == []
        assert (await keyed.http.get("/v1/assistants")).status_code == 401  # http sends none
    async with LocalServer(api_key="s3cret", client_key="wrong") as refused:
        with pytest.raises(openai.AuthenticationError) as raised:
            await refused.client.beta.assistants.list()
        assert raised.value.code == "invalid_api_key"
