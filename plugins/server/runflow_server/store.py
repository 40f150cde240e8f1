"""SQLite storage for assistants, threads, messages, runs and run steps.

Every record (`records.py`) is kept as its v2 wire JSON (`data`) plus the columns the server
queries on: its parent (the thread of a message or a run, the run of a step), `created_at`,
`status` and `expires_at`. `state` holds what the server keeps about a record but never sends
(a run's submitted tool outputs, a thread's brain memory). `seq` orders records created in the
same second.

The store is synchronous on purpose: every change the server makes (check the thread lock, then
insert the run) is one call with no `await` in it, inside one transaction, so concurrent requests
on the one event loop can never interleave half-way. A lock guards the connection for the rare
caller on another thread (uvicorn's shutdown, a sync test).
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Generic, Literal

from .records import Kind, R, Record
from .run_state import RunState

__all__ = ["Kind", "Page", "Store"]

JSON = dict[str, Any]
_KINDS: tuple[Kind, ...] = ("assistants", "threads", "messages", "runs", "run_steps", "files")

_TABLE = """
CREATE TABLE IF NOT EXISTS {kind} (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    parent TEXT,
    created_at INTEGER NOT NULL,
    status TEXT,
    expires_at INTEGER,
    data TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX IF NOT EXISTS {kind}_parent ON {kind} (parent, seq);
CREATE INDEX IF NOT EXISTS {kind}_status ON {kind} (status, expires_at);
"""

# What lives under an object, deleted with it.
_CHILDREN: dict[Kind, tuple[Kind, ...]] = {"threads": ("messages", "runs"), "runs": ("run_steps",)}


@dataclass(frozen=True)
class Page(Generic[R]):
    """One page of a list, in the order asked for."""

    data: list[R]
    has_more: bool


class Store:
    """Objects in SQLite: in memory by default, in a file when given a path."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self._lock = threading.RLock()
        self._depth = 0
        self._db = sqlite3.connect(
            ":memory:" if path is None else os.fspath(path), check_same_thread=False, timeout=30
        )
        if path is not None:  # other processes may share the file: readers never block writers
            self._db.execute("PRAGMA journal_mode=WAL")
        with self._db:
            for kind in _KINDS:
                self._db.executescript(_TABLE.format(kind=kind))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes: all of them land, or none. Nests (the outermost commits)."""
        with self._lock:
            if self._depth:
                self._depth += 1
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                with self._db:
                    yield
            finally:
                self._depth = 0

    def add(self, record: Record, *, state: RunState | JSON | None = None) -> None:
        """Store a new record (under its parent), with what the server keeps beside it."""
        wire = _loadable(record)
        with self.transaction():
            self._db.execute(
                f"INSERT INTO {record.kind} (id, parent, created_at, status, expires_at, data,"
                " state) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.parent,
                    record.created_at,
                    wire.get("status"),
                    wire.get("expires_at"),
                    json.dumps(wire),
                    _state_json(state),
                ),
            )

    def put(self, record: Record, *, state: RunState | JSON | None = None) -> None:
        """Write a changed record back (and its state, when given)."""
        wire = _loadable(record)
        with self.transaction():
            self._db.execute(
                f"UPDATE {record.kind} SET status = ?, expires_at = ?, data = ? WHERE id = ?",
                (wire.get("status"), wire.get("expires_at"), json.dumps(wire), record.id),
            )
            if state is not None:
                self.save_state(record.kind, record.id, state)

    def save_state(self, kind: Kind, object_id: str, state: RunState | JSON) -> None:
        with self.transaction():
            self._db.execute(
                f"UPDATE {kind} SET state = ? WHERE id = ?", (_state_json(state), object_id)
            )

    def delete(self, kind: Kind, object_id: str) -> None:
        """Delete an object and whatever is stored under it (a thread's messages and runs...)."""
        with self.transaction():
            for child in _CHILDREN.get(kind, ()):
                ids = [
                    row[0]
                    for row in self._rows(f"SELECT id FROM {child} WHERE parent = ?", [object_id])
                ]
                for child_id in ids:
                    self.delete(child, child_id)
            self._db.execute(f"DELETE FROM {kind} WHERE id = ?", (object_id,))

    def get(self, cls: type[R], object_id: str, *, parent: str | None = None) -> R | None:
        """The record, or None; with `parent`, only if it belongs to that parent."""
        row = self._one(f"SELECT data, parent FROM {cls.kind} WHERE id = ?", (object_id,))
        if row is None or (parent is not None and row[1] != parent):
            return None
        return cls.from_wire(json.loads(row[0]))

    def state(self, kind: Kind, object_id: str) -> JSON:
        row = self._one(f"SELECT state FROM {kind} WHERE id = ?", (object_id,))
        result: JSON = json.loads(row[0]) if row else {}
        return result

    def run_state(self, run_id: str) -> RunState:
        return RunState.model_validate(self.state("runs", run_id))

    def children(
        self, cls: type[R], parent: str, *, statuses: Iterable[str] | None = None
    ) -> list[R]:
        """All records under `parent`, oldest first, optionally only those in `statuses`."""
        sql, args = f"SELECT data FROM {cls.kind} WHERE parent = ?", [parent]
        if statuses is not None:
            wanted = list(statuses)
            sql += f" AND status IN ({', '.join('?' * len(wanted))})"
            args += wanted
        return self._all(cls, sql + " ORDER BY seq", args)

    def with_status(self, cls: type[R], statuses: Iterable[str]) -> list[R]:
        """All records in one of `statuses`, soonest `expires_at` first."""
        wanted = list(statuses)
        sql = (
            f"SELECT data FROM {cls.kind} WHERE status IN ({', '.join('?' * len(wanted))})"
            " ORDER BY expires_at IS NULL, expires_at, seq"
        )
        return self._all(cls, sql, wanted)

    def names_vector_store(self, store_id: str) -> bool:
        """Does an assistant or a thread name this vector store in its `tool_resources`?"""
        path = "$.tool_resources.file_search.vector_store_ids"
        for kind in ("assistants", "threads"):
            sql = (
                f"SELECT 1 FROM {kind}, json_each({kind}.data, ?) WHERE json_each.value = ? LIMIT 1"
            )
            if self._one(sql, (path, store_id)) is not None:
                return True
        return False

    def page(
        self,
        cls: type[R],
        parent: str | None,
        *,
        limit: int,
        order: Literal["asc", "desc"],
        after: str | None = None,
        before: str | None = None,
        filters: Mapping[str, str] | None = None,
    ) -> Page[R]:
        """A page of the records under `parent` (None: top-level objects), like the API's
        `limit/order/after/before`; `filters` keep objects whose wire field equals the value.

        `after=X`: the `limit` objects just after X in `order`; `before=X`: the `limit` objects
        just before it (its mirror), still in `order`; `has_more` says whether objects remain
        beyond the page in the direction read (after it for `after`, before it for `before`).

        Raises KeyError naming the cursor when `after` / `before` is not an object of the list.
        """
        kind = cls.kind
        sql = f"SELECT data FROM {kind} WHERE parent IS ?"
        args: list[Any] = [parent]
        for field, value in (filters or {}).items():
            sql += " AND json_extract(data, ?) = ?"
            args += [f"$.{field}", value]
        forward = order == "asc"
        for name, cursor, op in (("after", after, ">"), ("before", before, "<")):
            if cursor is None:
                continue
            seq = self._one(
                f"SELECT seq FROM {kind} WHERE id = ? AND parent IS ?", (cursor, parent)
            )
            if seq is None:
                raise KeyError(name)
            if not forward:
                op = "<" if op == ">" else ">"
            sql += f" AND seq {op} ?"
            args.append(seq[0])
        # `before` alone: the page just before the cursor, so read from the cursor backwards
        # and turn the rows round; otherwise read from the start (or from `after`) forwards.
        backwards = before is not None and after is None
        ascending = forward != backwards
        sql += f" ORDER BY seq {'ASC' if ascending else 'DESC'} LIMIT ?"
        args.append(limit + 1)
        rows = self._all(cls, sql, args)
        data = rows[:limit]
        return Page(data=data[::-1] if backwards else data, has_more=len(rows) > limit)

    def _one(self, sql: str, args: Sequence[Any]) -> tuple[Any, ...] | None:
        with self._lock:
            row: tuple[Any, ...] | None = self._db.execute(sql, args).fetchone()
        return row

    def _rows(self, sql: str, args: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            rows: list[tuple[Any, ...]] = self._db.execute(sql, args).fetchall()
        return rows

    def _all(self, cls: type[R], sql: str, args: Sequence[Any]) -> list[R]:
        return [cls.from_wire(json.loads(row[0])) for row in self._rows(sql, args)]


def _loadable(record: Record) -> JSON:
    """The record's wire JSON, checked to load back: `model_copy(update=...)` does not validate,
    and a record that cannot be read would break every request that reads it, not this one."""
    wire = record.to_wire()
    type(record).from_wire(wire)
    return wire


def _state_json(state: RunState | JSON | None) -> str:
    return json.dumps(state.to_wire() if isinstance(state, RunState) else state or {})
