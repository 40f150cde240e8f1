"""What each observation of a run means: the events it gives, and the decision it makes.

The driver hands every `Seen` item of its sources to `Observation.see()`, which records run
snapshots in the `RunState`, emits what they show (`RunCreated`, `StatusChanged`, `StepSeen`,
`MessageDelta`) and returns `lifecycle.decide`'s decision, a dispatch holding only the calls
not answered yet. No I/O but the events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from openai.types.beta import AssistantStreamEvent
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.runs import RunStep

from runflow._errors import StreamError
from runflow._events import MessageDelta, RunCreated, StatusChanged, StepSeen
from runflow._lifecycle import Decision, Dispatch, ToolCallRequest, Wait, decide
from runflow._result import status_of
from runflow._runs import snapshot
from runflow._runstate import RunState
from runflow._sinks import Fanout
from runflow._sources import Polled, Seen, StreamEnded

__all__ = ["Observation"]

_log = logging.getLogger("runflow")


class Observation:
    """One driver's reading of its run (sharing its `RunState`)."""

    def __init__(self, state: RunState, events: Fanout, *, streaming: bool) -> None:
        self._state = state
        self._events = events
        self.messages: list[Message] = []
        """The messages the run wrote, as far as they streamed in."""
        self.answered: set[str] = set()
        """The ids of the calls dispatched already."""
        self.missed_events = not streaming
        """Whether the run was polled, so events (its messages among them) may be missing."""

    async def see(self, seen: Seen) -> Decision:
        if isinstance(seen, Polled):
            self.missed_events = True
            return await self._run(seen.run, created=seen.created)
        if isinstance(seen, StreamEnded):
            return Wait()
        if isinstance(seen.data, Run):
            return await self._run(seen.data, created=seen.event == "thread.run.created")
        await self._event(seen)
        return Wait()

    async def _event(self, event: AssistantStreamEvent) -> None:
        """A streamed event that is not a run snapshot."""
        run_id = self._state.run_id
        if event.event == "error":
            raise StreamError(f"the service sent an error event: {event.data.message}")
        if event.event == "thread.created":
            self._state.thread_id = event.data.id
        elif event.event == "thread.message.delta" and self._events.wants(MessageDelta):
            for part in event.data.delta.content or ():
                if part.type == "text" and part.text is not None and part.text.value:
                    await self._events.emit(MessageDelta(run_id, event.data.id, part.text.value))
        elif event.event == "thread.message.completed":
            self.messages.append(event.data)
        elif isinstance(event.data, RunStep):
            await self._events.emit(StepSeen(run_id, event.data))

    async def _run(self, run: Run, *, created: bool) -> Decision:
        first = self._state.run is None
        previous = self._state.record(run, created=created)
        status = status_of(run)
        now = self._state.clock.now()
        if first:
            await self._events.emit(RunCreated(run, now))
        if status is not previous:
            await self._events.emit(StatusChanged(run.id, previous, status, now, run))
        decision = decide(snapshot(run, status))
        if isinstance(decision, Dispatch):
            return self._unanswered(decision.tool_calls)
        return decision

    def _unanswered(self, calls: Sequence[ToolCallRequest]) -> Dispatch | Wait:
        """The calls not dispatched yet, each id once (a repeated id is the service's mistake:
        its handler runs once and one output is submitted for it)."""
        fresh: dict[str, ToolCallRequest] = {}
        for call in calls:
            if call.id in fresh:
                run_id = self._state.run_id
                _log.warning("run %s names tool call %s twice; running it once", run_id, call.id)
            elif call.id not in self.answered:
                fresh[call.id] = call
        return Dispatch(list(fresh.values())) if fresh else Wait()
