"""The Backend for the `openai` package's async clients (OpenAI and Azure OpenAI)."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from contextlib import asynccontextmanager
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
from openai.types.beta.threads import Run

from runflow.backends import EventStream, ToolOutput
from runflow.errors import ProtocolError, RequestRejectedError, StreamDroppedError, StreamError

__all__ = ["OpenAIBackend"]

# Every Assistants call of the SDK warns that the API is deprecated. runflow exists to keep that
# protocol running, so those warnings are silenced, for calls made from runflow's modules only.
for _message in ("The Assistants API is deprecated", "deprecated$"):
    warnings.filterwarnings(
        "ignore", message=_message, category=DeprecationWarning, module=r"runflow(\.|$)"
    )


class OpenAIBackend:
    """Talks to an Assistants-compatible service through an `AsyncOpenAI` client."""

    def __init__(self, client: AsyncOpenAI) -> None:
        self._runs = client.beta.threads.runs
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

    def submit_tool_outputs_stream(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput]
    ) -> EventStream:
        return _open(
            self._runs.submit_tool_outputs(
                run_id, thread_id=thread_id, tool_outputs=tool_outputs, stream=True
            )
        )

    async def retrieve_run(self, *, thread_id: str, run_id: str) -> Run:
        return await self._runs.retrieve(run_id, thread_id=thread_id)

    async def cancel_run(self, *, thread_id: str, run_id: str) -> Run:
        return await self._runs.cancel(run_id, thread_id=thread_id)


@asynccontextmanager
async def _open(
    request: Awaitable[Run | AsyncStream[AssistantStreamEvent]],
) -> AsyncIterator[AsyncIterator[AssistantStreamEvent]]:
    try:
        stream = await request
    except APIStatusError as exc:
        if exc.status_code >= 500 or exc.status_code == 429:
            raise
        raise RequestRejectedError(str(exc), status_code=exc.status_code) from exc
    if not isinstance(stream, AsyncStream):
        raise ProtocolError(f"asked for a stream of run events, got a {type(stream).__name__}")
    async with stream:
        try:
            yield stream
        except APIConnectionError as exc:
            raise StreamDroppedError(f"the run event stream was cut: {exc}") from exc
        except APIStatusError:
            raise
        except APIError as exc:  # an `error` event, decoded by the SDK
            raise StreamError(f"the service sent an error event: {exc}") from exc
