"""The Backend for the `openai` package's async clients (OpenAI and Azure OpenAI)."""

from __future__ import annotations

import json
import re
import warnings
import weakref
from collections import deque
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import TYPE_CHECKING, Any

from openai import APIConnectionError, APIError, APIStatusError, AsyncAzureOpenAI, AsyncOpenAI
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from runflow._errors import (
    ConnectionLostError,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    ServiceUnavailableError,
    StreamDroppedError,
    StreamError,
    ThreadBusyError,
)
from runflow.backends import EventStream, RunAnswer, RunReply, ToolOutput
from runflow.backends._sse import SSEDecoder, model, run_event

if TYPE_CHECKING:
    import httpx2

__all__ = ["OpenAIBackend"]

# Every Assistants call of the SDK warns that the API is deprecated. runflow exists to keep that
# protocol running, so those warnings are silenced for the calls runflow makes (attributed to
# runflow's modules, or to the SDK's own wrappers when runflow asks for raw responses).
for _message in ("The Assistants API is deprecated", "deprecated$"):
    warnings.filterwarnings(
        "ignore", message=_message, category=DeprecationWarning, module=r"(runflow|openai)(\.|$)"
    )

_ACTIVE_RUN = re.compile(r"Thread (\S+) already has an active run (run_\w+)")


class OpenAIBackend:
    """Talks to an Assistants-compatible service through an `AsyncOpenAI` client.

    The client's own retries are switched off (`max_retries=0`): the Runner retries, knowing
    which requests are safe to repeat, so the two layers do not multiply.
    """

    def __init__(self, client: AsyncOpenAI) -> None:
        self._client = _without_retries(client)
        self._threads = self._client.beta.threads
        self._runs = self._threads.runs
        self.provider_name = "azure.ai.openai" if isinstance(client, AsyncAzureOpenAI) else "openai"
        self.server_address: str | None = client.base_url.host or None

    async def create_run(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any], stream: bool
    ) -> RunAnswer:
        if stream:
            return await _events(
                self._runs.with_raw_response.create(
                    thread_id=thread_id, assistant_id=assistant_id, stream=True, **options
                )
            )
        return await _reply(
            self._runs.with_raw_response.create(
                thread_id=thread_id, assistant_id=assistant_id, **options
            )
        )

    async def create_thread_and_run(
        self,
        *,
        assistant_id: str,
        thread: Mapping[str, Any],
        options: Mapping[str, Any],
        stream: bool,
    ) -> RunAnswer:
        parameters = {"thread": thread, **options}
        if stream:
            return await _events(
                self._threads.with_raw_response.create_and_run(
                    assistant_id=assistant_id, stream=True, **parameters
                )
            )
        return await _reply(
            self._threads.with_raw_response.create_and_run(assistant_id=assistant_id, **parameters)
        )

    async def submit_tool_outputs(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput], stream: bool
    ) -> RunAnswer:
        if stream:
            return await _events(
                self._runs.with_raw_response.submit_tool_outputs(
                    run_id, thread_id=thread_id, tool_outputs=tool_outputs, stream=True
                )
            )
        return await _reply(
            self._runs.with_raw_response.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=tool_outputs
            )
        )

    async def retrieve_run(self, *, thread_id: str, run_id: str) -> RunReply:
        return await _reply(self._runs.with_raw_response.retrieve(run_id, thread_id=thread_id))

    async def cancel_run(self, *, thread_id: str, run_id: str) -> Run:
        with _translated():
            return await self._runs.cancel(run_id, thread_id=thread_id)

    async def list_runs(self, *, thread_id: str, limit: int = 20) -> list[Run]:
        with _translated():
            page = await self._runs.list(thread_id=thread_id, limit=limit, order="desc")
        return list(page.data)

    async def list_run_steps(self, *, thread_id: str, run_id: str) -> list[RunStep]:
        with _translated():
            page = await self._runs.steps.list(run_id, thread_id=thread_id, order="asc", limit=100)
        return list(page.data)

    async def list_run_messages(self, *, thread_id: str, run_id: str) -> list[Message]:
        with _translated():
            page = await self._threads.messages.list(
                thread_id=thread_id, run_id=run_id, order="asc", limit=100
            )
        return list(page.data)


_NO_RETRY_COPIES: weakref.WeakKeyDictionary[AsyncOpenAI, AsyncOpenAI] = weakref.WeakKeyDictionary()


def _without_retries(client: AsyncOpenAI) -> AsyncOpenAI:
    """The client with its own retries off: itself if they are, else one copy per client
    (Runners made per request share it instead of each holding a copy of the client)."""
    if client.max_retries == 0:
        return client
    copy = _NO_RETRY_COPIES.get(client)
    if copy is None:
        copy = _NO_RETRY_COPIES[client] = client.with_options(max_retries=0)
    return copy


async def _reply(request: Awaitable[Any]) -> RunReply:
    """A raw response (`with_raw_response`) as a RunReply."""
    with _translated():
        response = await request
    try:
        value = json.loads(response.content)
    except ValueError as exc:  # not JSON, not UTF-8
        raise ProtocolError(f"the service's answer is not a readable run: {exc}") from exc
    if not isinstance(value, dict):
        raise ProtocolError(f"expected a run object, got a {type(value).__name__}")
    poll_after_ms = response.headers.get("openai-poll-after-ms")
    return RunReply(run=model(Run, value), poll_after=_seconds(poll_after_ms, scale=1000))


async def _events(request: Awaitable[Any]) -> EventStream:
    """The run events of the answer to a request made with `stream=True` (`with_raw_response`:
    the body is read here, see `runflow.backends._sse`)."""
    with _translated():
        response = await request
    return _Events(response.http_response)


class _Events:
    """A response's run events, read as they come; a failure to read it is a dropped stream."""

    def __init__(self, response: httpx2.Response) -> None:
        self._response = response
        self._chunks = response.aiter_bytes()
        self._decoder = SSEDecoder()
        self._ready: deque[AssistantStreamEvent] = deque()
        self._done = False

    def __aiter__(self) -> _Events:
        return self

    async def __anext__(self) -> AssistantStreamEvent:
        while not self._ready:
            if self._done:
                raise StopAsyncIteration
            await self._read()
        return self._ready.popleft()

    async def _read(self) -> None:
        """The events of the body's next chunk, up to `[DONE]`."""
        try:
            chunk = await anext(self._chunks)
        except StopAsyncIteration:
            self._done = True
            return
        except Exception as exc:  # the transport's (httpx2's, or httpx's for an httpx client)
            raise StreamDroppedError(f"the run event stream was cut: {exc!r}") from exc
        try:
            for sse in self._decoder.feed(chunk):
                if sse.data.startswith("[DONE]"):
                    self._done = True
                    return await self._drain()
                event = run_event(sse)
                if event is not None:
                    self._ready.append(event)
        except ValueError as exc:  # a line not UTF-8, data not JSON
            raise StreamError(f"the run event stream is unreadable: {exc}") from exc

    async def _drain(self) -> None:
        """Read what follows `[DONE]` to the body's end: an HTTP/1.1 connection is kept for the
        next request only once its response was read in full (as the SDK does)."""
        if self._response.http_version != "HTTP/1.1":
            return
        with suppress(Exception):  # the events are all in: a failure now loses nothing
            async for _ in self._chunks:
                pass

    async def aclose(self) -> None:
        await self._response.aclose()


@contextmanager
def _translated() -> Iterator[None]:
    """Turn the SDK's exceptions into runflow's (see `runflow.backends`)."""
    try:
        yield
    except APIConnectionError as exc:  # includes timeouts
        raise ConnectionLostError(f"no answer from the service: {exc}") from exc
    except APIStatusError as exc:
        raise _status_error(exc) from exc
    except APIError as exc:  # an answer the SDK refused
        raise ProtocolError(f"the service's answer is not usable: {exc}") from exc


def _status_error(exc: APIStatusError) -> Exception:
    status = exc.status_code
    if status == 429:
        retry_after = _seconds(exc.response.headers.get("retry-after"), scale=1)
        return RateLimitedError(str(exc), retry_after=retry_after)
    if status >= 500:
        return ServiceUnavailableError(str(exc), status_code=status)
    busy = _ACTIVE_RUN.search(str(exc))
    if busy is not None:
        return ThreadBusyError(str(exc), thread_id=busy.group(1), active_run_id=busy.group(2))
    return RequestRejectedError(str(exc), status_code=status)


def _seconds(header: str | None, *, scale: float) -> float | None:
    try:
        return None if header is None else max(0.0, float(header) / scale)
    except ValueError:
        return None  # an HTTP-date Retry-After: fall back to the retry policy's own backoff
