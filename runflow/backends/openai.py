"""The Backend for the `openai` package's async clients (OpenAI and Azure OpenAI)."""

from __future__ import annotations

import re
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from openai import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AsyncAzureOpenAI,
    AsyncOpenAI,
    AsyncStream,
)
from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from runflow.backends import EventStream, RunReply, ToolOutput
from runflow.errors import (
    ConnectionLostError,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    ServiceUnavailableError,
    StreamDroppedError,
    StreamError,
    ThreadBusyError,
)

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

    def create_run_stream(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any]
    ) -> EventStream:
        return _open(
            self._runs.create(
                thread_id=thread_id, assistant_id=assistant_id, stream=True, **options
            )
        )

    def create_thread_and_run_stream(
        self, *, assistant_id: str, thread: Mapping[str, Any], options: Mapping[str, Any]
    ) -> EventStream:
        return _open(
            self._threads.create_and_run(
                assistant_id=assistant_id, stream=True, **{"thread": thread, **options}
            )
        )

    def submit_tool_outputs_stream(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput]
    ) -> EventStream:
        return _open(
            self._runs.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=tool_outputs, stream=True
            )
        )

    async def create_run(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any]
    ) -> RunReply:
        return await _reply(
            self._runs.with_raw_response.create(
                thread_id=thread_id, assistant_id=assistant_id, **options
            )
        )

    async def create_thread_and_run(
        self, *, assistant_id: str, thread: Mapping[str, Any], options: Mapping[str, Any]
    ) -> RunReply:
        return await _reply(
            self._threads.with_raw_response.create_and_run(
                assistant_id=assistant_id, **{"thread": thread, **options}
            )
        )

    async def submit_tool_outputs(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput]
    ) -> RunReply:
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
    """The client with its own retries off, one copy per client (Runners made per request
    share it instead of each holding a copy of the client and its resources)."""
    copy = _NO_RETRY_COPIES.get(client)
    if copy is None:
        copy = _NO_RETRY_COPIES[client] = client.with_options(max_retries=0)
    return copy


async def _reply(request: Awaitable[Any]) -> RunReply:
    """A raw response (`with_raw_response`) as a RunReply."""
    with _translated():
        response = await request
    try:
        run = response.parse()
    except ValueError as exc:  # not JSON, not a run
        raise ProtocolError(f"the service's answer is not a readable run: {exc}") from exc
    if not isinstance(run, Run):
        raise ProtocolError(f"expected a run object, got a {type(run).__name__}")
    poll_after_ms = response.headers.get("openai-poll-after-ms")
    return RunReply(run=run, poll_after=_seconds(poll_after_ms, scale=1000))


@asynccontextmanager
async def _open(
    request: Awaitable[Run | AsyncStream[AssistantStreamEvent]],
) -> AsyncIterator[AsyncIterator[AssistantStreamEvent]]:
    with _translated():
        stream = await request
    if not isinstance(stream, AsyncStream):
        raise ProtocolError(f"asked for a stream of run events, got a {type(stream).__name__}")
    async with stream:
        with _translated(in_stream=True):
            yield stream


@contextmanager
def _translated(*, in_stream: bool = False) -> Iterator[None]:
    """Turn the SDK's exceptions into runflow's (see `runflow.backends`)."""
    try:
        yield
    except APIConnectionError as exc:  # includes timeouts
        if in_stream:
            raise StreamDroppedError(f"the run event stream was cut: {exc}") from exc
        raise ConnectionLostError(f"no answer from the service: {exc}") from exc
    except APIStatusError as exc:
        raise _status_error(exc) from exc
    except APIError as exc:  # an `error` event inside a stream, or an answer the SDK refused
        if in_stream:
            raise StreamError(f"the service sent an error event: {exc}") from exc
        raise ProtocolError(f"the service's answer is not usable: {exc}") from exc
    except ValueError as exc:  # event data that is not JSON (or not UTF-8)
        if not in_stream:
            raise
        raise StreamError(f"the run event stream is unreadable: {exc}") from exc


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
