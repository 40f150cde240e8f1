"""The Backend protocol: the only door between runflow's loop and the network.

Everything a Runner decides is pure code around these few calls. The vocabulary is the
`openai` package's own types (`Run`, `AssistantStreamEvent`), because that package is the
wire client; `OpenAIBackend` adapts an `AsyncOpenAI` or `AsyncAzureOpenAI` client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Run
from openai.types.beta.threads.run_submit_tool_outputs_params import ToolOutput

__all__ = ["Backend", "EventStream", "ToolOutput"]

EventStream = AbstractAsyncContextManager[AsyncIterator[AssistantStreamEvent]]
"""An open stream of run events; leaving the context closes the connection."""


class Backend(Protocol):
    provider_name: str
    """`openai` or `azure.ai.openai` (the gen_ai.provider.name of traces)."""
    server_address: str | None

    def create_run_stream(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any]
    ) -> EventStream:
        """Create a run with `stream=True`; `options` are the API's run parameters."""
        ...

    def submit_tool_outputs_stream(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput]
    ) -> EventStream:
        """Submit the outputs of one requires_action round with `stream=True`."""
        ...

    async def retrieve_run(self, *, thread_id: str, run_id: str) -> Run: ...

    async def cancel_run(self, *, thread_id: str, run_id: str) -> Run: ...
