"""The Backend protocol: the only door between runflow's loop and the network.

Everything a Runner decides is pure code around these calls. The three requests that create or
advance a run take `stream`: with it they answer the run's event stream, without it the run
(the observation sources in `runflow._sources` follow either). The vocabulary is the `openai`
package's own types (`Run`, `Message`, `AssistantStreamEvent`), because that package is the wire
client; `OpenAIBackend` adapts an `AsyncOpenAI` or `AsyncAzureOpenAI` client.

A backend translates its failures into runflow's exception tree at this boundary:
`RequestRejectedError` (4xx), `RateLimitedError` (429), `ServiceUnavailableError` (5xx),
`ConnectionLostError` (no answer) and `StreamDroppedError` (a stream cut in the middle).
It does not retry: the Runner does, knowing which requests are safe to repeat.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput
from openai.types.beta.threads.runs import RunStep

__all__ = ["Backend", "EventStream", "RunAnswer", "RunReply", "ToolOutput"]


class EventStream(Protocol):
    """An open stream of run events (the answer to a request made with `stream=True`);
    `aclose()` closes its connection, read to its end or not."""

    def __aiter__(self) -> AsyncIterator[AssistantStreamEvent]: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RunReply:
    """A Run object as the service answered it, with the advice that came along."""

    run: Run
    poll_after: float | None = None
    """Seconds the service asks clients to wait before polling again (`openai-poll-after-ms`)."""


RunAnswer = RunReply | EventStream
"""What a request that creates or advances a run answers: the run itself, or (`stream=True`)
the stream of its events."""


class Backend(Protocol):
    """What `Runner(backend)` drives runs through (`OpenAIBackend` for an openai client)."""

    provider_name: str
    """`openai` or `azure.ai.openai` (the gen_ai.provider.name of traces)."""
    server_address: str | None

    async def create_run(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any], stream: bool
    ) -> RunAnswer:
        """Create a run; `options` are the API's run parameters. An `EventStream` when
        `stream`, else a `RunReply`."""
        ...

    async def create_thread_and_run(
        self,
        *,
        assistant_id: str,
        thread: Mapping[str, Any],
        options: Mapping[str, Any],
        stream: bool,
    ) -> RunAnswer:
        """Create a thread (`thread` holds its messages, metadata...) and a run on it."""
        ...

    async def submit_tool_outputs(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput], stream: bool
    ) -> RunAnswer:
        """Submit the outputs of one requires_action round."""
        ...

    async def retrieve_run(self, *, thread_id: str, run_id: str) -> RunReply: ...

    async def cancel_run(self, *, thread_id: str, run_id: str) -> Run: ...

    async def list_runs(self, *, thread_id: str, limit: int = 20) -> list[Run]:
        """The thread's latest runs, newest first."""
        ...

    async def list_run_messages(self, *, thread_id: str, run_id: str) -> list[Message]:
        """The messages a run wrote, oldest first."""
        ...

    async def list_run_steps(self, *, thread_id: str, run_id: str) -> list[RunStep]:
        """The run's steps, oldest first."""
        ...
