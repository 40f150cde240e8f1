"""A stream that goes silent: the run's events stop with the connection left open.

A proxy in front of the real app lets a streaming response through up to
`thread.run.in_progress`, then sends nothing more and never closes it: as an ASGI app (the
in-process transport then holds the whole response back, so the request itself goes
unanswered) or as an HTTP transport (the head of the stream arrives, then its reader waits).
The Runner must not wait on it for ever (the openai client's own read timeout is 600 s): each
wait is bounded by the run's time left and the stream idle timeout, after which the run is
looked at and reported as it is, with no error logged for a run that simply ended. On the fake
clock: milliseconds.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from openai import AsyncOpenAI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runflow import Runner, RunStatus, ToolRegistry
from runflow.testing import FakeClock
from runflow_server import Scenario, create_app

pytestmark = pytest.mark.anyio


class GoSilent:
    """Streams go quiet after `thread.run.in_progress`; counts the streams it silenced."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.silenced = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        silent = False

        async def sending(message: Message) -> None:
            nonlocal silent
            if silent:
                await anyio.sleep_forever()
            body = message.get("body", b"")
            if message["type"] == "http.response.body" and b"thread.run.in_progress" in body:
                cut = body.index(b"thread.run.in_progress")
                cut = body.index(b"\n\n", cut) + 2
                silent = True
                self.silenced += 1
                await send({"type": "http.response.body", "body": body[:cut], "more_body": True})
                await anyio.sleep_forever()
            await send(message)

        await self.app(scope, receive, sending)


class GoSilentMidStream(httpx2.AsyncBaseTransport):
    """Event streams arrive up to `thread.run.in_progress`, then their reader waits for ever."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx2.ASGITransport(app=app)
        self.silenced = 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.inner.handle_async_request(request)
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            return response
        body = await response.aread()
        cut = body.index(b"\n\n", body.index(b"thread.run.in_progress")) + 2
        self.silenced += 1
        return httpx2.Response(
            response.status_code, headers=response.headers, stream=_Hang(body[:cut])
        )


class _Hang(httpx2.AsyncByteStream):
    def __init__(self, head: bytes) -> None:
        self.head = head

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield self.head
        await anyio.sleep_forever()


async def _served(
    clock: FakeClock, steps: list[dict[str, Any]], expiry: float, *, mid_stream: bool = False
) -> tuple[AsyncOpenAI, GoSilent | GoSilentMidStream, str, str]:
    scenario = Scenario.model_validate({"name": "silent", "steps": steps})
    app = create_app(scenario=scenario, clock=clock, run_expiry_seconds=expiry)
    proxy: GoSilent | GoSilentMidStream
    if mid_stream:
        proxy = GoSilentMidStream(app)
        transport: httpx2.AsyncBaseTransport = proxy
    else:
        proxy = GoSilent(app)
        transport = httpx2.ASGITransport(app=proxy)
    http = httpx2.AsyncClient(transport=transport, base_url="http://rf.test")
    client = AsyncOpenAI(base_url="http://rf.test/v1", api_key="t", http_client=http, max_retries=0)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    return client, proxy, assistant.id, thread.id


def _tools() -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    def ping() -> str:
        """Answer."""
        return "pong"

    return registry


@pytest.mark.parametrize("mid_stream", [False, True], ids=["unanswered", "mid-stream"])
async def test_a_silent_stream_of_a_run_that_expires_is_reported_expired(
    caplog: pytest.LogCaptureFixture, mid_stream: bool
) -> None:
    clock = FakeClock()
    # Unanswered: the run stays in progress. Mid-stream: the run waits for an output the
    # client never hears it ask for, and the idle timeout is longer than the run's life.
    ping = {"tool_calls": [{"name": "ping", "arguments": {}}]}
    steps = [ping if mid_stream else {"delay": 3600}, {"message": "never"}]
    client, proxy, assistant_id, thread_id = await _served(
        clock, steps, expiry=10, mid_stream=mid_stream
    )
    idle_timeout = 60 if mid_stream else 5
    runner = Runner(client, _tools(), clock=clock, stream_idle_timeout=idle_timeout)
    started = clock.now()
    with caplog.at_level(logging.INFO, logger="runflow"), anyio.fail_after(10):
        async with clock.autojump():
            result = await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert proxy.silenced == 1
    assert result.status is RunStatus.EXPIRED
    assert clock.now() - started <= 30  # bounded waits, not the client's 600 s read timeout
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text
    await client.close()


@pytest.mark.parametrize("mid_stream", [False, True], ids=["unanswered", "mid-stream"])
async def test_a_silent_stream_of_a_live_run_hands_over_to_polling(mid_stream: bool) -> None:
    clock = FakeClock()
    steps = [{"tool_calls": [{"name": "ping", "arguments": {}}]}, {"message": "done: {outputs}"}]
    client, proxy, assistant_id, thread_id = await _served(
        clock, steps, expiry=600, mid_stream=mid_stream
    )
    runner = Runner(client, _tools(), clock=clock, stream_idle_timeout=5)
    started = clock.now()
    with anyio.fail_after(10):
        async with clock.autojump():
            result = await runner.run(assistant_id=assistant_id, thread_id=thread_id)
    assert result.status is RunStatus.COMPLETED
    assert [record.output for record in result.tool_calls] == ["pong"]
    assert "pong" in result.output_text
    assert proxy.silenced == 2  # the creation stream and the submission stream
    assert 5 <= clock.now() - started < 600
    await client.close()


async def test_the_idle_timeout_must_be_positive() -> None:
    clock = FakeClock()
    client, _, _, _ = await _served(clock, [{"message": "hi"}], expiry=600)
    with pytest.raises(Exception, match="stream_idle_timeout"):
        Runner(client, clock=clock, stream_idle_timeout=0)
    await client.close()


async def test_on_the_real_clock_a_silent_stream_is_given_up_after_the_idle_timeout() -> None:
    """The event loop's own timer ends the wait (the fake clock's stands in for it above)."""
    steps = [{"tool_calls": [{"name": "ping", "arguments": {}}]}, {"message": "done: {outputs}"}]
    scenario = Scenario.model_validate({"name": "silent", "steps": steps})
    proxy = GoSilentMidStream(create_app(scenario=scenario))
    http = httpx2.AsyncClient(transport=proxy, base_url="http://rf.test")
    client = AsyncOpenAI(base_url="http://rf.test/v1", api_key="t", http_client=http, max_retries=0)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "go"}])
    runner = Runner(client, _tools(), stream_idle_timeout=0.2)
    with anyio.fail_after(10):
        result = await runner.run(assistant_id=assistant.id, thread_id=thread.id)
    assert result.status is RunStatus.COMPLETED
    assert proxy.silenced == 2
    await client.close()
