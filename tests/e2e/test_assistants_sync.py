"""sync_assistant against the real local run server: create, leave alone, update."""

from typing import Literal

import pytest

from runflow import (
    RequestRejectedError,
    Runner,
    RunStatus,
    ToolRegistry,
    UsageError,
    sync_assistant,
)
from runflow import _assistants as assistants_module
from tests.conftest import ServerFactory

pytestmark = pytest.mark.anyio

NO_RUN = [{"message": "(these tests start no run)"}]


def weather_registry() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def get_weather(city: str, unit: Literal["c", "f"] = "c") -> str:
        """Current weather in a city."""
        return f"sunny in {city}"

    @registry.tool(strict=True)
    def get_time(city: str, zone: str | None) -> str:
        """Local time in a city."""
        return f"noon in {city} ({zone or 'local time'})"

    return registry


def function_names(assistant: object) -> list[str]:
    tools = getattr(assistant, "tools", [])
    return sorted(tool.function.name for tool in tools if tool.type == "function")


async def test_create_then_nothing_to_do_then_update(make_server: ServerFactory) -> None:
    server = make_server(
        [
            {"tool_calls": [{"name": "get_time", "arguments": {"city": "Oslo", "zone": None}}]},
            {"message": "{output.get_time}"},
        ]
    )
    registry = weather_registry()

    created = await sync_assistant(
        server.client, registry, name="forecaster", model="gpt-4o", instructions="Be brief."
    )
    assert server.requests == ["GET /v1/assistants", "POST /v1/assistants"]
    assert (created.name, created.model, created.instructions) == (
        "forecaster",
        "gpt-4o",
        "Be brief.",
    )
    assert function_names(created) == ["get_time", "get_weather"]
    thread = await server.client.beta.threads.create()
    result = await Runner(server.client, registry).run(thread_id=thread.id, assistant_id=created.id)
    assert (result.status, result.output_text) == (RunStatus.COMPLETED, "noon in Oslo (local time)")

    server.requests.clear()
    again = await sync_assistant(server.client, registry, name="forecaster", model="gpt-4o")
    by_id = await sync_assistant(server.client, registry, assistant_id=created.id)
    assert server.requests == ["GET /v1/assistants", f"GET /v1/assistants/{created.id}"]
    assert again.id == by_id.id == created.id

    @registry.tool
    def get_tide(port: str) -> str:
        """Tide times in a port."""
        return port

    server.requests.clear()
    updated = await sync_assistant(server.client, registry, assistant_id=created.id)
    assert server.requests == [
        f"GET /v1/assistants/{created.id}",
        f"POST /v1/assistants/{created.id}",
    ]
    assert function_names(updated) == ["get_tide", "get_time", "get_weather"]
    assert updated.instructions == "Be brief."  # only what differs is sent

    server.requests.clear()
    await sync_assistant(server.client, registry, assistant_id=created.id, instructions="Be kind.")
    assert server.requests[-1] == f"POST /v1/assistants/{created.id}"
    fetched = await server.client.beta.assistants.retrieve(created.id)
    assert fetched.instructions == "Be kind."
    sent = [(d["function"]["name"], d["function"]["parameters"]) for d in registry.definitions()]
    assert [(t.function.name, t.function.parameters) for t in fetched.tools] == sent  # type: ignore[union-attr]


async def test_other_tools_are_kept_and_stale_functions_removed(make_server: ServerFactory) -> None:
    server = make_server(NO_RUN)
    registry = weather_registry()
    stale = {"type": "function", "function": {"name": "old_tool", "parameters": {}}}
    existing = await server.client.beta.assistants.create(
        model="gpt-4o",
        name="mixed",
        tools=[{"type": "code_interpreter"}, stale],  # type: ignore[list-item]
    )

    kept = await sync_assistant(server.client, registry, assistant_id=existing.id)
    assert function_names(kept) == ["get_time", "get_weather"]
    assert [tool.type for tool in kept.tools].count("code_interpreter") == 1

    server.requests.clear()
    await sync_assistant(server.client, registry, assistant_id=existing.id)
    assert server.requests == [f"GET /v1/assistants/{existing.id}"]

    dropped = await sync_assistant(
        server.client, registry, assistant_id=existing.id, keep_other_tools=False
    )
    assert [tool.type for tool in dropped.tools] == ["function", "function"]


async def test_the_assistant_is_found_by_name_across_pages(
    make_server: ServerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(assistants_module, "_LIST_PAGE_SIZE", 2)
    server = make_server(NO_RUN)
    registry = weather_registry()
    wanted = await server.client.beta.assistants.create(
        model="gpt-4o", name="needle", tools=registry.definitions()
    )
    for index in range(4):
        await server.client.beta.assistants.create(model="gpt-4o", name=f"hay-{index}")

    server.requests.clear()
    found = await sync_assistant(server.client, registry, name="needle")
    assert found.id == wanted.id
    assert server.requests == ["GET /v1/assistants"] * 3


async def test_what_cannot_be_done_is_said(make_server: ServerFactory) -> None:
    server = make_server(NO_RUN)
    registry = weather_registry()
    with pytest.raises(UsageError, match="needs an assistant_id or a name"):
        await sync_assistant(server.client, registry)
    with pytest.raises(UsageError, match="a model is needed to create it"):
        await sync_assistant(server.client, registry, name="nobody")
    with pytest.raises(RequestRejectedError, match="No assistant found"):
        await sync_assistant(server.client, registry, assistant_id="asst_missing")
