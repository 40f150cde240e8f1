"""Creating a run, or finding the one a previous attempt (or process) created.

Creation is idempotent in effect: the run is tagged with a client key in its metadata, and
after an ambiguous failure the thread's runs are searched for that key before creating again.
Each way in returns the source that observes the run (see `_sources.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runflow._errors import (
    RateLimitedError,
    RequestRejectedError,
    RunNeverCreatedError,
    ThreadBusyError,
    TransientError,
)
from runflow._events import RunRequested, RunSink
from runflow._journal import JournaledRun
from runflow._runstate import RunState
from runflow._settings import DriverSettings
from runflow._sources import Retrying, RunSource, Sources, primed
from runflow.backends import RunAnswer, RunReply

__all__ = ["RUN_KEY_METADATA", "Creation"]

RUN_KEY_METADATA = "runflow_run_key"
"""The metadata key runflow tags the runs it creates with (for idempotent creation)."""

_log = logging.getLogger("runflow")


@dataclass
class Creation:
    """The ways into one run: create it, or reattach to it after a restart."""

    settings: DriverSettings
    state: RunState
    sources: Sources
    key: str
    """The client key the run is tagged with."""
    events: RunSink
    retrying: Retrying

    async def reattach(self, entry: JournaledRun) -> RunSource:
        if entry.run_id is not None:
            run_id = entry.run_id
            reply = await self.retrying(lambda: self.sources.retrieve(run_id))
            return self.sources.polling(reply)
        found = None
        if entry.thread_id is not None:
            found = await self.retrying(lambda: self._find_run_by_key(entry.key))
        if found is not None:
            return self.sources.polling(found)
        if entry.thread_id is None:
            raise RunNeverCreatedError(
                f"run {entry.key} was to create its own thread, and the process stopped before "
                "the service answered: whether a thread and run exist cannot be known"
            )
        # The create request never reached the service: carry out the intent, with the same key.
        return await self.create(entry.assistant_id, entry.options, None)

    async def create(
        self, assistant_id: str, options: Mapping[str, Any], thread: Mapping[str, Any] | None
    ) -> RunSource:
        """Create the run; the source that observes it."""
        key = self.key
        tagged = {**options, "metadata": {**(options.get("metadata") or {}), RUN_KEY_METADATA: key}}
        thread_id = None if thread is not None else self.state.thread_id
        await self.events.emit(RunRequested(key, assistant_id, thread_id, options, thread))
        try:
            return await self._source(assistant_id, tagged, thread)
        except ThreadBusyError as busy:
            # A create re-sent after an ambiguous failure may find its own first attempt.
            ours = await self._own_run(busy)
            if ours is None:
                raise
            _log.info("run %s, keeping the thread busy, is ours; following it", ours.run.id)
            return self.sources.polling(ours)

    async def _source(
        self, assistant_id: str, tagged: Mapping[str, Any], thread: Mapping[str, Any] | None
    ) -> RunSource:
        backend, key = self.settings.backend, self.key

        async def find_created(error: TransientError) -> RunReply | None:
            # A new thread is known once its `thread.created` event was seen.
            return await self._find_run_by_key(key) if self.state.thread_id else None

        # A new thread has no id to look for its run under: only retry what surely did nothing.
        retry_if = _surely_not_carried_out if thread is not None else None

        async def create(stream: bool) -> RunAnswer:
            if thread is not None:
                return await backend.create_thread_and_run(
                    assistant_id=assistant_id, thread=thread, options=tagged, stream=stream
                )
            return await backend.create_run(
                thread_id=self.state.thread_id,
                assistant_id=assistant_id,
                options=tagged,
                stream=stream,
            )

        source = self.sources.answered(
            create, recover=find_created, retry_if=retry_if, created=True
        )
        return await primed(source)

    async def _own_run(self, busy: ThreadBusyError) -> RunReply | None:
        self.state.thread_id = self.state.thread_id or busy.thread_id
        try:
            reply = await self.retrying(lambda: self.sources.retrieve(busy.active_run_id))
        except RequestRejectedError:
            return None  # gone already
        metadata = reply.run.metadata or {}
        return reply if metadata.get(RUN_KEY_METADATA) == self.key else None

    async def _find_run_by_key(self, key: str) -> RunReply | None:
        runs = await self.settings.backend.list_runs(thread_id=self.state.thread_id)
        for run in runs:
            if (run.metadata or {}).get(RUN_KEY_METADATA) == key:
                _log.info("run %s was created despite the failure; following it", run.id)
                return RunReply(run=run)
        return None


def _surely_not_carried_out(error: TransientError) -> bool:
    return isinstance(error, RateLimitedError)
