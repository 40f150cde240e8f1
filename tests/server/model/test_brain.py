"""`ModelBrain` against the fake endpoint through the real `openai` client: its event stream,
retries, failures and quirks, driven directly (no run server)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx2
import pytest

from runflow.testing import FakeClock
from runflow_server.brains import (
    BrainEvent,
    CallFunctions,
    Fail,
    FunctionCallDelta,
    Incomplete,
    TextDelta,
    ToolCall,
    ToolResult,
    Turn,
    Usage,
)
from runflow_server.model import ModelBrain, ModelConfig, RetryPolicy
from runflow_server.model.fake import FakeChatModel, Scripted, chunk

from .support import NOW, RECORDINGS, WEATHER, make_turn

pytestmark = pytest.mark.anyio

KEY = "sk-test-0123456789abcdefSECRET"
Brains = Callable[..., ModelBrain]


@pytest.fixture
async def brains() -> AsyncIterator[Brains]:
    """`brains(fake, **config)`: a ModelBrain on a fake clock whose one provider is `fake`."""
    opened: list[tuple[ModelBrain, httpx2.AsyncClient]] = []

    def make(fake: FakeChatModel, *, clock: FakeClock | None = None, **options: Any) -> ModelBrain:
        provider = {"name": "fake", "base_url": "http://fake/v1", "api_key": KEY}
        provider |= options.pop("provider", {})
        config = ModelConfig.model_validate({"providers": [provider]})
        http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=fake.app, raise_app_exceptions=False),
            base_url="http://fake",
        )
        brain = ModelBrain(config, clock=clock or FakeClock(start=NOW), http_client=http, **options)
        opened.append((brain, http))
        return brain

    yield make
    for brain, http in opened:
        await brain.aclose()
        await http.aclose()


async def respond(brain: ModelBrain, turn: Turn) -> list[BrainEvent]:
    return [event async for event in brain.respond(turn)]


def text_of(events: list[BrainEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


async def test_a_text_reply_streams_and_reports_usage(brains: Brains) -> None:
    fake = FakeChatModel.of(Scripted.text("Hello there, friend.", pieces=4, usage=(12, 4)))
    events = await respond(brains(fake), make_turn("Hi", assistant={"instructions": "Be kind."}))
    assert len([e for e in events if isinstance(e, TextDelta)]) == 4
    assert text_of(events) == "Hello there, friend."
    assert events[-1] == Usage(12, 4)
    [sent] = fake.requests
    assert sent["model"] == "gpt-4o-mini"
    assert sent["messages"][0] == {"role": "system", "content": "Be kind."}
    assert fake.headers[0]["authorization"] == f"Bearer {KEY}"


async def test_a_mapped_model_goes_upstream_under_its_provider_name(brains: Brains) -> None:
    fake = FakeChatModel.of(Scripted.text("ok"))
    brain = brains(fake, provider={"models": {"gpt-4o-mini": "qwen2.5:7b"}})
    await respond(brain, make_turn("Hi"))
    assert fake.requests[0]["model"] == "qwen2.5:7b"


async def test_azure_goes_to_the_deployment_with_its_api_version_and_key(brains: Brains) -> None:
    fake = FakeChatModel.of(Scripted.text("ok"))
    azure = {
        "type": "azure",
        "base_url": None,
        "endpoint": "http://fake",
        "api_version": "2024-10-21",
        "deployments": {"gpt-4o-mini": "prod-mini"},
    }
    await respond(brains(fake, provider=azure), make_turn("Hi"))
    assert fake.urls == [
        "http://fake/openai/deployments/prod-mini/chat/completions?api-version=2024-10-21"
    ]
    assert fake.headers[0]["api-key"] == KEY


async def test_function_calls_stream_then_end_the_turn_with_their_ids(brains: Brains) -> None:
    fake = FakeChatModel.of(
        Scripted.calls(("get_weather", '{"city":"Paris"}'), ("get_weather", '{"city":"Oslo"}'))
    )
    events = await respond(brains(fake), make_turn("Weather?", assistant={"tools": [WEATHER]}))
    previews = [e for e in events if isinstance(e, FunctionCallDelta)]
    assert previews[0] == FunctionCallDelta(0, "call_fake0", "get_weather", "")
    assert "".join(p.arguments for p in previews if p.index == 1) == '{"city":"Oslo"}'
    assert events[-1] == CallFunctions(
        (
            ToolCall("get_weather", '{"city":"Paris"}', "call_fake0"),
            ToolCall("get_weather", '{"city":"Oslo"}', "call_fake1"),
        )
    )


async def test_a_recorded_parallel_round_trip(brains: Brains) -> None:
    fake = FakeChatModel.from_recording(RECORDINGS / "ParallelToolCalls.json")
    tool = {
        "type": "function",
        "function": {
            "description": "gets the current weather for a given city",
            "name": "get_weather_for_city",
            "parameters": {
                "type": "object",
                "properties": {
                    "city_name": {
                        "type": "string",
                        "description": "the name of a city, e.g. Johannesburg or Ho Chi Minh City.",
                    }
                },
                "required": ["city_name"],
            },
        },
    }
    question = "Tell me what's the current weather in the following cities: Santiago and Karachi."
    brain = brains(fake)
    turn = make_turn(question, assistant={"tools": [tool]})
    events = await respond(brain, turn)
    [calls] = [e for e in events if isinstance(e, CallFunctions)]
    assert [(c.call_id, c.arguments) for c in calls.calls] == [
        ("call_SKQEHo7QVlJRoCtEzcrYZM9C", '{"city_name": "Santiago"}'),
        ("call_CkjljlLr7IebPc4hnvetfiZ8", '{"city_name": "Karachi"}'),
    ]
    outputs = {"call_SKQEHo7QVlJRoCtEzcrYZM9C": "rainy", "call_CkjljlLr7IebPc4hnvetfiZ8": "sunny"}
    turn.rounds = [
        [
            ToolResult(c.call_id or "", c.name, c.arguments, outputs[c.call_id or ""])
            for c in calls.calls
        ]
    ]
    answer = text_of(await respond(brain, turn))
    assert "Santiago" in answer and "rainy" in answer.lower()


async def test_429_waits_as_told_then_succeeds(brains: Brains) -> None:
    clock = FakeClock(start=NOW)
    fake = FakeChatModel.of(
        Scripted.error(429, "Slow down", headers=(("retry-after", "3"),)),
        Scripted.error(503, "Busy"),
        Scripted.text("Finally."),
    )
    brain = brains(fake, clock=clock, retry=RetryPolicy(first=0.5))
    async with clock.autojump() as jumps:
        events = await respond(brain, make_turn("Hi"))
    assert text_of(events) == "Finally.", events
    assert jumps == [3.0, 1.0]  # Retry-After, then the doubled backoff
    assert len(fake.requests) == 3


@pytest.mark.parametrize(
    ("answers", "code", "requests"),
    [
        pytest.param([Scripted.error(500, "boom")] * 3, "server_error", 3, id="5xx"),
        pytest.param([Scripted.error(429, "slow")] * 3, "rate_limit_exceeded", 3, id="429"),
        pytest.param(
            [
                Scripted.error(
                    429, "x", body={"error": {"message": "quota", "code": "insufficient_quota"}}
                )
            ],
            "rate_limit_exceeded",
            1,
            id="no quota: no retry",
        ),
        pytest.param([Scripted.error(401, "bad key")], "server_error", 1, id="401"),
        pytest.param([Scripted.error(400, "bad schema")], "invalid_prompt", 1, id="400"),
        pytest.param([Scripted(end="clean")] * 3, "server_error", 3, id="empty streams"),
        pytest.param(
            [Scripted((chunk({}, "tool_calls"),))] * 3,
            "server_error",
            3,
            id="tool_calls with no calls and no text",
        ),
    ],
)
async def test_failures_retry_within_attempts_then_fail_the_run(
    brains: Brains, answers: list[Scripted], code: str, requests: int
) -> None:
    clock = FakeClock(start=NOW)
    fake = FakeChatModel.of(*answers)
    brain = brains(fake, clock=clock, retry=RetryPolicy(attempts=3, first=0.1))
    async with clock.autojump():
        events = await respond(brain, make_turn("Hi"))
    *spent, failure = events
    assert isinstance(failure, Fail) and failure.code == code
    assert all(isinstance(e, Usage) for e in spent)  # tokens a failed answer used still count
    assert "'fake'" in failure.message
    assert len(fake.requests) == requests


async def test_no_retry_past_the_runs_time_left(brains: Brains) -> None:
    clock = FakeClock(start=NOW + 590)  # 10 s left, 5 s of margin
    fake = FakeChatModel.of(Scripted.error(503, "busy", headers=(("retry-after", "8"),)))
    async with clock.autojump() as jumps:
        [failure] = await respond(brains(fake, clock=clock), make_turn("Hi"))
    assert isinstance(failure, Fail) and "no time left" in failure.message
    assert jumps == [] and len(fake.requests) == 1


CONTEXT = {
    "error": {
        "message": "This model's maximum context length is 8192 tokens.",
        "code": "context_length_exceeded",
    }
}


async def test_a_context_length_refusal_drops_old_messages_under_auto(brains: Brains) -> None:
    fake = FakeChatModel.of(
        Scripted.error(400, "x", body=CONTEXT),
        Scripted.error(400, "x", body=CONTEXT),
        Scripted.text("ok"),
    )
    events = await respond(brains(fake), make_turn("one", "two", "three", "four", "five"))
    assert text_of(events) == "ok"
    assert [len(r["messages"]) for r in fake.requests] == [5, 4, 3]


async def test_a_context_length_refusal_fails_when_nothing_is_left_to_drop(brains: Brains) -> None:
    fake = FakeChatModel.of(
        Scripted.error(400, "x", body=CONTEXT), Scripted.error(400, "x", body=CONTEXT)
    )
    [failure] = await respond(brains(fake), make_turn("only one"))
    assert isinstance(failure, Fail) and failure.code == "invalid_prompt"
    assert "maximum context length" in failure.message


async def test_a_context_length_refusal_under_last_messages_fails_at_once(brains: Brains) -> None:
    fake = FakeChatModel.of(Scripted.error(400, "x", body=CONTEXT))
    turn = make_turn(
        "a", "b", run={"truncation_strategy": {"type": "last_messages", "last_messages": 2}}
    )
    [failure] = await respond(brains(fake), turn)
    assert isinstance(failure, Fail) and failure.code == "invalid_prompt"


async def test_a_stream_cut_mid_call_is_retried_without_repeating_its_previews(
    brains: Brains,
) -> None:
    whole = Scripted.calls(("get_weather", '{"city":"Paris"}'))
    cut = Scripted(whole.chunks[:3], end="clean")  # the call's name and half its arguments
    clock = FakeClock(start=NOW)
    fake = FakeChatModel.of(cut, whole)
    async with clock.autojump():
        events = await respond(
            brains(fake, clock=clock), make_turn("Weather?", assistant={"tools": [WEATHER]})
        )
    previews = [e for e in events if isinstance(e, FunctionCallDelta)]
    assert "".join(p.arguments for p in previews) == '{"city":"Paris"}'
    assert [p.name for p in previews if p.name] == ["get_weather"]
    assert events[-1] == CallFunctions((ToolCall("get_weather", '{"city":"Paris"}', "call_fake0"),))


async def test_text_ending_without_a_finish_reason_stands(brains: Brains) -> None:
    # some servers never send finish_reason; a lost connection raises instead (test_brain_http)
    whole = Scripted.text("The answer is forty-two.", pieces=4)
    fake = FakeChatModel.of(Scripted(whole.chunks[:-1], end="clean"))
    events = await respond(brains(fake), make_turn("?"))
    assert text_of(events) == "The answer is forty-two."
    assert len(fake.requests) == 1


async def test_a_stream_cut_after_whole_calls_keeps_them(brains: Brains) -> None:
    whole = Scripted.calls(("get_weather", '{"city":"Paris"}'))
    fake = FakeChatModel.of(Scripted(whole.chunks[:-1], end="clean"))
    events = await respond(brains(fake), make_turn("Weather?", assistant={"tools": [WEATHER]}))
    assert isinstance(events[-1], CallFunctions) and len(fake.requests) == 1


async def test_required_answered_with_text_is_the_reply(brains: Brains) -> None:
    fake = FakeChatModel.of(Scripted.text("I would rather just say hi."))
    turn = make_turn("Hi", assistant={"tools": [WEATHER]}, run={"tool_choice": "required"})
    events = await respond(brains(fake), turn)
    assert fake.requests[0]["tool_choice"] == "required"
    assert text_of(events) == "I would rather just say hi."
    assert not any(isinstance(e, CallFunctions | Fail) for e in events)


async def test_length_ends_the_run_incomplete(brains: Brains) -> None:
    fake = FakeChatModel.of(Scripted.text("Once upon a time", finish="length"))
    events = await respond(brains(fake), make_turn("Story", run={"max_completion_tokens": 300}))
    assert fake.requests[0]["max_completion_tokens"] == 300
    assert events[-1] == Incomplete("max_completion_tokens")


async def test_a_run_past_its_model_turns_fails_without_calling(brains: Brains) -> None:
    fake = FakeChatModel.of()
    rounds = [[ToolResult(f"c{i}", "get_weather", "{}", "x")] for i in range(3)]
    turn = make_turn("Hi", assistant={"tools": [WEATHER]}, rounds=rounds)
    [failure] = await respond(brains(fake, max_turns=3), turn)
    assert isinstance(failure, Fail) and "3 model turns" in failure.message
    assert fake.requests == []


async def test_the_key_is_never_in_logs_errors_or_reprs(
    brains: Brains, caplog: pytest.LogCaptureFixture
) -> None:
    echoed = {"error": {"message": f"Incorrect API key provided: {KEY}. Also sk-abcdef123456."}}
    clock = FakeClock(start=NOW)
    fake = FakeChatModel.of(Scripted.error(503, "busy"), Scripted.error(401, "x", body=echoed))
    brain = brains(fake, clock=clock)
    caplog.set_level(logging.DEBUG)
    async with clock.autojump():
        [failure] = await respond(brain, make_turn("Hi"))
    assert isinstance(failure, Fail)
    assert "Incorrect API key provided: [redacted]" in failure.message
    assert "sk-abcdef" not in failure.message
    seen = [failure.message, repr(brain), repr(brain.config), brain.config.model_dump_json()]
    seen += [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    assert caplog.records  # the openai client did log at debug level
    assert not [text for text in seen if KEY in text]
