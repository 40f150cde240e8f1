"""Submitting the outputs of one tool round, streamed or not; the source that follows it.

Submission is idempotent in effect: after an ambiguous failure the run is retrieved, and if it
has left requires_action for those call ids, the outputs landed and are not sent again. The
request is reported as `OutputsSubmitted` ... `SubmissionEnded` (tracing's submission span).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from anyio import CancelScope

from runflow._deadline import Deadline
from runflow._dispatch import ToolCallRecord
from runflow._errors import TransientError
from runflow._events import OutputsSubmitted, RunSink, SubmissionEnded
from runflow._runs import still_waiting_for
from runflow._runstate import RunState
from runflow._settings import DriverSettings
from runflow._sources import Retrying, RunSource, Sources, primed
from runflow.backends import RunAnswer, RunReply, ToolOutput

__all__ = ["Submission"]


@dataclass
class Submission:
    """Submits the outputs of one run's rounds (one per driver)."""

    settings: DriverSettings
    state: RunState
    sources: Sources
    events: RunSink
    retrying: Retrying

    async def submit(
        self, records: Sequence[ToolCallRecord], deadline: Deadline | None
    ) -> RunSource:
        """Submit the outputs of one round, before `deadline`; the source that observes the
        run after it."""
        call_ids = [record.call_id for record in records]
        outputs: list[ToolOutput] = [
            {"tool_call_id": record.call_id, "output": record.output} for record in records
        ]
        backend, thread_id, run_id = self.settings.backend, self.state.thread_id, self.state.run_id
        opening = self._reported(call_ids, deadline)
        stop_by = None if deadline is None else deadline.expiry

        async def landed(error: TransientError) -> RunReply | None:
            reply = await self.sources.retrieve()
            return None if still_waiting_for(reply.run, call_ids) else reply

        async def submit(stream: bool) -> RunAnswer:
            return await backend.submit_tool_outputs(
                thread_id=thread_id, run_id=run_id, tool_outputs=outputs, stream=stream
            )

        source = self.sources.answered(
            submit, recover=landed, opening=opening, stop_by=stop_by, call_ids=call_ids
        )
        return await primed(source)

    @asynccontextmanager
    async def _reported(
        self, call_ids: Sequence[str], deadline: Deadline | None
    ) -> AsyncIterator[None]:
        """Around the submission request (its retries included): its two events."""
        clock, run_id = self.settings.clock, self.state.run_id
        now = clock.now()
        time_left = None if deadline is None else deadline.until_expiry(now)
        expires_at = None if deadline is None else deadline.expires_at
        await self.events.emit(OutputsSubmitted(run_id, call_ids, time_left, expires_at, now))
        try:
            yield
        except BaseException as exc:
            with CancelScope(shield=True):
                await self.events.emit(SubmissionEnded(run_id, call_ids, exc, clock.now()))
            raise
        await self.events.emit(SubmissionEnded(run_id, call_ids, None, clock.now()))
