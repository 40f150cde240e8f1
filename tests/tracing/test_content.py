"""Content is recorded only when asked for; secrets never are."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan

from runflow import Runner, ToolRegistry
from runflow._tracing import CAPTURE_CONTENT_ENV
from tests.conftest import ServerFactory

from .conftest import Telemetry

pytestmark = pytest.mark.anyio

QUESTION = "What is the weather in Atlantis?"
SCENARIO = [
    {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Atlantis"}}]},
    {"message": "Atlantis reports {output.get_weather}"},
]
SECRET = "sk-secret-XYZ"


def tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def get_weather(city: str) -> str:
        """Weather in a city."""
        return f"tidal waves over {city}"

    return registry


def recorded_text(spans: list[ReadableSpan]) -> Iterator[str]:
    """Every string the spans hold: names, attribute values, event attributes, statuses."""
    for span in spans:
        yield span.name
        yield str(span.status.description)
        for value in (span.attributes or {}).values():
            yield str(value)
        for event in span.events:
            yield event.name
            yield from (str(value) for value in (event.attributes or {}).values())
        yield from (str(value) for value in span.resource.attributes.values())


async def run_once(
    make_server: ServerFactory, telemetry: Telemetry, *, capture_content: bool | None
) -> str:
    server = make_server(SCENARIO)
    assistant_id, thread_id = await server.assistant_and_thread()
    runner = Runner(
        server.client,
        tools(),
        instrumentation=telemetry.instrumentation(capture_content=capture_content),
    )
    result = await runner.run(
        thread_id=thread_id,
        assistant_id=assistant_id,
        instructions="Answer like a pirate.",
        additional_messages=[{"role": "user", "content": QUESTION}],
    )
    return result.output_text


async def test_no_content_is_recorded_by_default(
    make_server: ServerFactory, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)

    answer = await run_once(make_server, telemetry, capture_content=None)

    assert answer == "Atlantis reports tidal waves over Atlantis"
    text = "\n".join(recorded_text(telemetry.spans()))
    for content in ["Atlantis", "pirate", "tidal"]:
        assert content not in text
    for span in telemetry.spans():
        assert not {
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.system_instructions",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "input.value",
            "output.value",
        } & set(span.attributes or {})


@pytest.mark.parametrize(
    ("setting", "environment"),
    [
        pytest.param(True, None, id="constructor"),
        pytest.param(None, "true", id="environment"),
        pytest.param(None, "SPAN_ONLY", id="environment-spec-value"),
    ],
)
async def test_content_is_recorded_when_asked_for(
    make_server: ServerFactory,
    telemetry: Telemetry,
    monkeypatch: pytest.MonkeyPatch,
    setting: bool | None,
    environment: str | None,
) -> None:
    if environment is None:
        monkeypatch.delenv(CAPTURE_CONTENT_ENV, raising=False)
    else:
        monkeypatch.setenv(CAPTURE_CONTENT_ENV, environment)

    answer = await run_once(make_server, telemetry, capture_content=setting)

    [root] = [span for span in telemetry.spans() if span.name.startswith("invoke_agent")]
    attributes = dict(root.attributes or {})
    assert json.loads(str(attributes["gen_ai.system_instructions"])) == [
        {"type": "text", "content": "Answer like a pirate."}
    ]
    assert json.loads(str(attributes["gen_ai.input.messages"])) == [
        {"role": "user", "parts": [{"type": "text", "content": QUESTION}]}
    ]
    assert json.loads(str(attributes["gen_ai.output.messages"])) == [
        {"role": "assistant", "parts": [{"type": "text", "content": answer}]}
    ]
    assert attributes["output.value"] == answer
    [tool] = [span for span in telemetry.spans() if span.name == "execute_tool get_weather"]
    assert tool.attributes is not None
    assert json.loads(str(tool.attributes["gen_ai.tool.call.arguments"])) == {"city": "Atlantis"}
    assert tool.attributes["gen_ai.tool.call.result"] == "tidal waves over Atlantis"
    assert tool.attributes["input.value"] == tool.attributes["gen_ai.tool.call.arguments"]
    assert tool.attributes["output.value"] == "tidal waves over Atlantis"


async def test_an_explicit_false_wins_over_the_environment(
    make_server: ServerFactory, telemetry: Telemetry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CAPTURE_CONTENT_ENV, "true")

    await run_once(make_server, telemetry, capture_content=False)

    assert "Atlantis" not in "\n".join(recorded_text(telemetry.spans()))


async def test_the_api_key_is_never_recorded_in_spans_or_logs(
    make_server: ServerFactory, telemetry: Telemetry, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, openai's and httpx's included
    server = make_server(
        [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Atlantis"}}]},
            {"tool_calls": [{"name": "boom", "arguments": {}}]},
            {"message": "{outputs}"},
        ],
        api_key=SECRET,
    )
    assistant_id, thread_id = await server.assistant_and_thread()
    registry = tools()

    @registry.tool
    async def boom() -> str:
        raise RuntimeError("the handler failed")

    # Content capture on: the most a span can ever say.
    runner = Runner(
        server.client, registry, instrumentation=telemetry.instrumentation(capture_content=True)
    )
    result = await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert result.status.value == "completed"
    assert len(telemetry.spans()) >= 6
    assert caplog.records  # the check below looked at something
    assert SECRET not in "\n".join(recorded_text(telemetry.spans()))
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        assert SECRET not in repr(record.__dict__)
