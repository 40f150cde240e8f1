"""A durable ledger of the runs a Runner creates and the tool outputs it produces (SQLite).

With a journal, a process that dies in the middle of runs can be replaced by a new one that
calls `Runner.resume()`: every unfinished run is picked up where it stood.

Delivery guarantee
------------------
- A tool call whose output is in the journal never runs its handler again: after a restart the
  journaled output is submitted as it is.
- The journal records an output as soon as its handler returns, *before* it is submitted, so a
  crash between a handler's side effect and that write runs the handler again after the
  restart: handlers are executed **at least once**, and exactly once unless the process dies
  inside that window.
- Outputs are submitted at most once per call id: submission is checked against the run's state
  after an ambiguous failure, and a run that has left requires_action is never resubmitted to.
- A run is created at most once: its client key is journaled before the create request, and a
  resumed run looks for that key on the thread before creating anything.

Writes are committed with `synchronous=FULL` in a worker thread, so the event loop never blocks
on the disk; writes that arrive while a commit is on the disk share the next one (group commit).
Each output is journaled as soon as its handler returns (before the batch is complete), so the
re-execution window of a call is one commit, plus at most one commit it waits behind.
"""

from __future__ import annotations

import functools
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from runflow._dispatch import ToolCallRecord, ToolFailure
from runflow._errors import RequestRejectedError
from runflow._events import RunCreated, RunEnded, RunEvent, RunRequested, ToolCallFinished

__all__ = ["Journal", "JournaledOutput", "JournaledRun", "RunLedger"]

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    assistant_id TEXT NOT NULL,
    thread_id TEXT,
    run_id TEXT,
    options TEXT NOT NULL,
    new_thread TEXT,
    ended_status TEXT
);
CREATE TABLE IF NOT EXISTS outputs (
    run_id TEXT NOT NULL,
    call_id TEXT NOT NULL,
    name TEXT NOT NULL,
    arguments TEXT NOT NULL,
    output TEXT NOT NULL,
    error_kind TEXT,
    error_message TEXT,
    PRIMARY KEY (run_id, call_id)
);
"""


@dataclass(frozen=True, slots=True)
class JournaledRun:
    """A run the journal knows of, as far as it got."""

    key: str
    assistant_id: str
    thread_id: str | None
    run_id: str | None
    """None when the process died before the service's answer to the create request."""
    options: Mapping[str, Any]
    new_thread: Mapping[str, Any] | None
    """The `thread` parameters when the run was to create its own thread."""


@dataclass(frozen=True, slots=True)
class JournaledOutput:
    """A tool call's output the journal holds, submitted on resume instead of running the
    handler again."""

    call_id: str
    name: str
    arguments: str
    output: str
    error: ToolFailure | None


@dataclass(eq=False)
class _Write:
    sql: str
    parameters: tuple[Any, ...]
    done: anyio.Event = field(default_factory=anyio.Event)
    error: Exception | None = None


class Journal:
    """The ledger, in the SQLite file at `path` (created if missing)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._queued: list[_Write] = []
        self._committing: anyio.Event | None = None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def run_started(
        self,
        key: str,
        *,
        assistant_id: str,
        thread_id: str | None,
        options: Mapping[str, Any],
        new_thread: Mapping[str, Any] | None,
    ) -> None:
        """Before the create request: the run runflow is about to create, by its client key."""
        encoded = json.dumps(dict(options), default=str)
        thread = None if new_thread is None else json.dumps(dict(new_thread), default=str)
        await self._write(
            "INSERT OR IGNORE INTO runs (key, assistant_id, thread_id, options, new_thread)"
            " VALUES (?, ?, ?, ?, ?)",
            (key, assistant_id, thread_id, encoded, thread),
        )

    async def run_created(self, key: str, *, run_id: str, thread_id: str) -> None:
        await self._write(
            "UPDATE runs SET run_id = ?, thread_id = ? WHERE key = ?", (run_id, thread_id, key)
        )

    async def output_recorded(self, run_id: str, record: ToolCallRecord) -> None:
        """A call's output, before it is submitted."""
        error = record.error
        await self._write(
            "INSERT OR IGNORE INTO outputs VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                run_id,
                record.call_id,
                record.name,
                record.arguments,
                record.output,
                None if error is None else error.kind,
                None if error is None else error.message,
            ),
        )

    async def run_ended(self, key: str, status: str) -> None:
        await self._write("UPDATE runs SET ended_status = ? WHERE key = ?", (status, key))

    async def outputs(self, run_id: str) -> dict[str, JournaledOutput]:
        """The outputs journaled for a run, by call id."""
        rows = await self._read(
            "SELECT call_id, name, arguments, output, error_kind, error_message"
            " FROM outputs WHERE run_id = ?",
            (run_id,),
        )
        return {
            row[0]: JournaledOutput(
                call_id=row[0],
                name=row[1],
                arguments=row[2],
                output=row[3],
                error=None if row[4] is None else ToolFailure(row[4], row[5] or ""),
            )
            for row in rows
        }

    async def unfinished(self) -> list[JournaledRun]:
        """The runs that have not been seen to end, oldest first."""
        rows = await self._read(
            "SELECT key, assistant_id, thread_id, run_id, options, new_thread FROM runs"
            " WHERE ended_status IS NULL ORDER BY rowid",
            (),
        )
        return [
            JournaledRun(
                key=row[0],
                assistant_id=row[1],
                thread_id=row[2],
                run_id=row[3],
                options=json.loads(row[4]),
                new_thread=None if row[5] is None else json.loads(row[5]),
            )
            for row in rows
        ]

    async def _write(self, sql: str, parameters: tuple[Any, ...]) -> None:
        """Commit one statement; concurrent writers share commits (group commit): while one
        commit is on the disk, the statements that arrive meanwhile queue for the next."""
        write = _Write(sql, parameters)
        self._queued.append(write)
        while not write.done.is_set():
            if self._committing is not None:
                await self._committing.wait()
                continue
            batch, self._queued = self._queued, []
            self._committing = anyio.Event()
            try:
                await self._in_thread(functools.partial(self._commit, batch))
            except Exception as exc:
                for queued in batch:
                    queued.error = exc
            finally:
                for queued in batch:
                    queued.done.set()
                self._committing.set()
                self._committing = None
        if write.error is not None:
            raise write.error

    def _commit(self, batch: list[_Write]) -> None:
        self._db.execute("BEGIN")
        try:
            for write in batch:
                self._db.execute(write.sql, write.parameters)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    async def _read(self, sql: str, parameters: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        return await self._in_thread(lambda: self._db.execute(sql, parameters).fetchall())

    async def _in_thread(self, work: Callable[[], T]) -> T:
        """Run one statement in a worker thread; a cancelled caller still waits for it (a
        write the caller was told nothing about is never half done)."""

        def locked() -> T:
            with self._lock:
                return work()

        return await anyio.to_thread.run_sync(locked)


class RunLedger:
    """One run's entries in a journal, written as a sink of the run's events.

    The loop awaits each event's write before it goes on, which is the guarantee: the run's key
    is journaled before the create request (`RunRequested`), each output before it is
    submitted (`ToolCallFinished`)."""

    def __init__(self, journal: Journal | None, key: str) -> None:
        self._journal = journal
        self.key = key
        self._replayed: set[str] = set()
        """Calls whose outputs came from the journal (not written again)."""

    async def emit(self, event: RunEvent) -> None:
        journal = self._journal
        if journal is None:
            return
        match event:
            case RunRequested():
                await journal.run_started(
                    self.key,
                    assistant_id=event.assistant_id,
                    thread_id=event.thread_id,
                    options=event.options,
                    new_thread=event.new_thread,
                )
            case RunCreated(run=run):
                await journal.run_created(self.key, run_id=run.id, thread_id=run.thread_id)
            case ToolCallFinished(run_id=run_id, record=record):
                if record.call_id not in self._replayed:
                    await journal.output_recorded(run_id, record)
            case RunEnded(status=status, error=error):
                if status is not None and status.is_terminal:
                    await self._ended(status.value)
                elif status is None and isinstance(error, RequestRejectedError):
                    await self._ended("never_created")  # refused: nothing to resume

    async def replayed(
        self, run_id: str, call_ids: Sequence[str], now: float
    ) -> dict[str, ToolCallRecord]:
        """The journaled outputs of these calls, as records to submit without re-running."""
        if self._journal is None:
            return {}
        stored = await self._journal.outputs(run_id)
        found = {
            call_id: ToolCallRecord(
                call_id=call_id,
                name=stored[call_id].name,
                arguments=stored[call_id].arguments,
                output=stored[call_id].output,
                error=stored[call_id].error,
                started_at=now,
                duration=0.0,
            )
            for call_id in call_ids
            if call_id in stored
        }
        self._replayed.update(found)
        return found

    async def _ended(self, status: str) -> None:
        """The run ended (written even while the caller is being cancelled)."""
        assert self._journal is not None
        with anyio.CancelScope(shield=True):
            await self._journal.run_ended(self.key, status)
