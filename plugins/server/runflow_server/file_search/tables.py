"""The SQLite tables of file search, on the server's own connection (`Store`).

- `vs_stores`, `vs_files`, `vs_batches`: the records (`records.py`) as JSON, plus the columns
  queried on. `seq` orders lists; a file's key is (store, file id).
- `vs_chunks`: every chunk of every ingested file, with its embedding (float32 bytes) when an
  embeddings endpoint is configured; `vs_chunks_fts`, an FTS5 index over the chunk text
  (external content, kept in step by triggers), answers BM25 queries.

Every method is synchronous and runs under the store's lock, inside its transaction when it
writes, like the rest of the server's storage.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict
from typing import Any, Literal

from ..store import Store
from .records import (
    Chunking,
    FileBatch,
    FileError,
    FileStatus,
    VectorStore,
    VectorStoreFile,
)

__all__ = ["ChunkRow", "Order", "Tables"]

Order = Literal["asc", "desc"]
ChunkRow = tuple[int, str, str, int]  # chunk id, file id, text, position

_SCHEMA = """
CREATE TABLE IF NOT EXISTS vs_stores (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vs_files (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL,
    batch_id TEXT, status TEXT NOT NULL, usage_bytes INTEGER NOT NULL, data TEXT NOT NULL,
    UNIQUE (vector_store_id, file_id));
CREATE INDEX IF NOT EXISTS vs_files_batch ON vs_files (batch_id);
CREATE TABLE IF NOT EXISTS vs_batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
    vector_store_id TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vs_chunks (
    id INTEGER PRIMARY KEY, vector_store_id TEXT NOT NULL, file_id TEXT NOT NULL,
    position INTEGER NOT NULL, text TEXT NOT NULL, embedding BLOB);
CREATE INDEX IF NOT EXISTS vs_chunks_file ON vs_chunks (vector_store_id, file_id, position);
CREATE VIRTUAL TABLE IF NOT EXISTS vs_chunks_fts USING fts5(
    text, content='vs_chunks', content_rowid='id', tokenize='porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS vs_chunks_vocab USING fts5vocab(vs_chunks_fts, 'row');
CREATE TRIGGER IF NOT EXISTS vs_chunks_ai AFTER INSERT ON vs_chunks BEGIN
    INSERT INTO vs_chunks_fts (rowid, text) VALUES (new.id, new.text); END;
CREATE TRIGGER IF NOT EXISTS vs_chunks_ad AFTER DELETE ON vs_chunks BEGIN
    INSERT INTO vs_chunks_fts (vs_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""

# A scratch index with the same tokenizer, to learn the terms (stems) of a query's words.
_SCRATCH = """
CREATE VIRTUAL TABLE IF NOT EXISTS temp.vs_query USING fts5(text, tokenize='porter unicode61');
CREATE VIRTUAL TABLE IF NOT EXISTS temp.vs_query_terms USING fts5vocab(temp, vs_query, 'instance');
"""
COMMON_SHARE = 0.25  # a word in more than this share of all chunks is left out of a query
PRUNE_FROM = 1000  # ... once there are this many chunks (in a small corpus every word is common)


def _store_json(store: VectorStore) -> str:
    return json.dumps(asdict(store))


def _file_json(file: VectorStoreFile) -> str:
    data = asdict(file)
    data["status"] = file.status.value
    return json.dumps(data)


def _file_of(raw: str) -> VectorStoreFile:
    data = json.loads(raw)
    error = data.pop("last_error")
    return VectorStoreFile(
        **{
            **data,
            "status": FileStatus(data["status"]),
            "chunking": Chunking(**data["chunking"]),
            "last_error": None if error is None else FileError(**error),
        }
    )


class Tables:
    """File search's rows in the server's SQLite database."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._db: sqlite3.Connection = store._db  # the one connection of the server
        with store.transaction():
            self._db.executescript(_SCHEMA)
            self._db.executescript(_SCRATCH)

    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._store.transaction():
            return self._db.execute(sql, args).fetchall()

    def _write(self, sql: str, args: Sequence[Any] = ()) -> None:
        with self._store.transaction():
            self._db.execute(sql, args)

    # Vector stores.

    def insert_store(self, store: VectorStore) -> None:
        self._write(
            "INSERT INTO vs_stores (id, data) VALUES (?, ?)", (store.id, _store_json(store))
        )

    def save_store(self, store: VectorStore) -> None:
        self._write("UPDATE vs_stores SET data = ? WHERE id = ?", (_store_json(store), store.id))

    def get_store(self, store_id: str) -> VectorStore | None:
        rows = self._rows("SELECT data FROM vs_stores WHERE id = ?", (store_id,))
        return VectorStore(**json.loads(rows[0][0])) if rows else None

    def delete_store(self, store_id: str) -> None:
        with self._store.transaction():
            for table in ("vs_chunks", "vs_files", "vs_batches"):
                self._db.execute(f"DELETE FROM {table} WHERE vector_store_id = ?", (store_id,))
            self._db.execute("DELETE FROM vs_stores WHERE id = ?", (store_id,))

    def page_stores(
        self, limit: int, order: Order, after: str | None, before: str | None
    ) -> tuple[list[VectorStore], bool]:
        rows, more = self._page("vs_stores", "id", "1 = 1", [], limit, order, after, before)
        return [VectorStore(**json.loads(row)) for row in rows], more

    # Files in stores.

    def insert_file(self, file: VectorStoreFile) -> None:
        self._write(
            "INSERT INTO vs_files (vector_store_id, file_id, batch_id, status, usage_bytes, data)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (file.vector_store_id, file.id, file.batch_id, file.status.value,
             file.usage_bytes, _file_json(file)),
        )  # fmt: skip

    def save_file(self, file: VectorStoreFile) -> None:
        self._write(
            "UPDATE vs_files SET batch_id = ?, status = ?, usage_bytes = ?, data = ?"
            " WHERE vector_store_id = ? AND file_id = ?",
            (file.batch_id, file.status.value, file.usage_bytes, _file_json(file),
             file.vector_store_id, file.id),
        )  # fmt: skip

    def get_file(self, store_id: str, file_id: str) -> VectorStoreFile | None:
        rows = self._rows(
            "SELECT data FROM vs_files WHERE vector_store_id = ? AND file_id = ?",
            (store_id, file_id),
        )
        return _file_of(rows[0][0]) if rows else None

    def delete_file(self, store_id: str, file_id: str) -> None:
        with self._store.transaction():
            where = " WHERE vector_store_id = ? AND file_id = ?"
            self._db.execute("DELETE FROM vs_chunks" + where, (store_id, file_id))
            self._db.execute("DELETE FROM vs_files" + where, (store_id, file_id))

    def stores_with(self, file_id: str) -> list[str]:
        """The ids of the vector stores that hold this file."""
        rows = self._rows("SELECT vector_store_id FROM vs_files WHERE file_id = ?", (file_id,))
        return [row[0] for row in rows]

    def files(self, store_ids: Iterable[str]) -> list[VectorStoreFile]:
        ids = list(store_ids)
        marks = ", ".join("?" * len(ids))
        sql = f"SELECT data FROM vs_files WHERE vector_store_id IN ({marks}) ORDER BY seq"
        return [_file_of(row[0]) for row in self._rows(sql, ids)]

    def files_in_progress(self) -> list[VectorStoreFile]:
        rows = self._rows("SELECT data FROM vs_files WHERE status = 'in_progress' ORDER BY seq")
        return [_file_of(row[0]) for row in rows]

    def page_files(
        self,
        store_id: str,
        limit: int,
        order: Order,
        after: str | None,
        before: str | None,
        *,
        status: FileStatus | None = None,
        batch_id: str | None = None,
    ) -> tuple[list[VectorStoreFile], bool]:
        where, args = "vector_store_id = ?", [store_id]
        if status is not None:
            where, args = where + " AND status = ?", [*args, status.value]
        if batch_id is not None:
            where, args = where + " AND batch_id = ?", [*args, batch_id]
        rows, more = self._page("vs_files", "file_id", where, args, limit, order, after, before)
        return [_file_of(row) for row in rows], more

    def statuses(self, store_id: str, batch_id: str | None = None) -> list[FileStatus]:
        sql, args = "SELECT status FROM vs_files WHERE vector_store_id = ?", [store_id]
        if batch_id is not None:
            sql, args = sql + " AND batch_id = ?", [*args, batch_id]
        return [FileStatus(row[0]) for row in self._rows(sql, args)]

    def usage_bytes(self, store_id: str) -> int:
        rows = self._rows(
            "SELECT COALESCE(SUM(usage_bytes), 0) FROM vs_files WHERE vector_store_id = ?",
            (store_id,),
        )
        return int(rows[0][0])

    # File batches.

    def insert_batch(self, batch: FileBatch) -> None:
        self._write(
            "INSERT INTO vs_batches (id, vector_store_id, data) VALUES (?, ?, ?)",
            (batch.id, batch.vector_store_id, json.dumps(asdict(batch))),
        )

    def save_batch(self, batch: FileBatch) -> None:
        self._write(
            "UPDATE vs_batches SET data = ? WHERE id = ?", (json.dumps(asdict(batch)), batch.id)
        )

    def get_batch(self, store_id: str, batch_id: str) -> FileBatch | None:
        rows = self._rows(
            "SELECT data FROM vs_batches WHERE id = ? AND vector_store_id = ?",
            (batch_id, store_id),
        )
        return FileBatch(**json.loads(rows[0][0])) if rows else None

    # Chunks.

    def add_chunks(
        self, store_id: str, file_id: str, chunks: Sequence[tuple[str, bytes | None]]
    ) -> None:
        """Replace the chunks of a file by `chunks` (text, embedding), in one transaction."""
        with self._store.transaction():
            where = " WHERE vector_store_id = ? AND file_id = ?"
            self._db.execute("DELETE FROM vs_chunks" + where, (store_id, file_id))
            self._db.executemany(
                "INSERT INTO vs_chunks (vector_store_id, file_id, position, text, embedding)"
                " VALUES (?, ?, ?, ?, ?)",
                [(store_id, file_id, n, text, vector) for n, (text, vector) in enumerate(chunks)],
            )

    def file_text(self, store_id: str, file_id: str) -> list[str]:
        """The chunks' text of a file, in order."""
        rows = self._rows(
            "SELECT text FROM vs_chunks WHERE vector_store_id = ? AND file_id = ?"
            " ORDER BY position",
            (store_id, file_id),
        )
        return [row[0] for row in rows]

    def bm25(
        self, store_ids: Sequence[str], file_ids: Sequence[str], match: str, limit: int
    ) -> list[tuple[int, float]]:
        """(chunk id, relevance > 0) of the best `limit` chunks matching the FTS5 `match`."""
        stores, files = ", ".join("?" * len(store_ids)), ", ".join("?" * len(file_ids))
        rows = self._rows(
            "SELECT c.id, -bm25(vs_chunks_fts) AS score FROM vs_chunks_fts"
            " JOIN vs_chunks c ON c.id = vs_chunks_fts.rowid"
            f" WHERE vs_chunks_fts MATCH ? AND c.vector_store_id IN ({stores})"
            f" AND c.file_id IN ({files}) ORDER BY bm25(vs_chunks_fts) LIMIT ?",
            [match, *store_ids, *file_ids, limit],
        )
        return [(int(chunk_id), float(score)) for chunk_id, score in rows]

    def selective(self, words: Sequence[str]) -> list[str]:
        """`words` without those whose every term is in more than `COMMON_SHARE` of all
        chunks ("the", "how"...), from `PRUNE_FROM` chunks on, unless no word that some chunk
        has would be left: BM25 gives such words almost no weight, and ranking the chunks they
        match (nearly all) is what makes a search slow.
        """
        if len(words) < 2:
            return list(words)
        with self._store.transaction():
            self._db.executemany(
                "INSERT INTO temp.vs_query (rowid, text) VALUES (?, ?)", list(enumerate(words))
            )
            terms = self._db.execute("SELECT doc, term FROM temp.vs_query_terms").fetchall()
            self._db.execute("DELETE FROM temp.vs_query")
            total = self._db.execute("SELECT count(*) FROM vs_chunks").fetchone()[0]
            unique = sorted({term for _, term in terms})
            marks = ", ".join("?" * len(unique))
            counts = dict(
                self._db.execute(
                    f"SELECT term, doc FROM vs_chunks_vocab WHERE term IN ({marks})", unique
                ).fetchall()
            )
        if total < PRUNE_FROM:
            return list(words)
        useful = {term for term in unique if 0 < counts.get(term, 0) <= COMMON_SHARE * total}
        rare = {n for n, term in terms if term in useful}
        kept = [word for n, word in enumerate(words) if n in rare]
        return kept or list(words)

    def chunks(self, chunk_ids: Sequence[int]) -> dict[int, ChunkRow]:
        marks = ", ".join("?" * len(chunk_ids))
        rows = self._rows(
            f"SELECT id, file_id, text, position FROM vs_chunks WHERE id IN ({marks})",
            list(chunk_ids),
        )
        return {int(row[0]): (int(row[0]), row[1], row[2], int(row[3])) for row in rows}

    def embeddings(self, store_id: str) -> list[tuple[int, str, bytes]]:
        """(chunk id, file id, embedding) of the store's chunks that have one."""
        return [
            (int(chunk_id), file_id, blob)
            for chunk_id, file_id, blob in self._rows(
                "SELECT id, file_id, embedding FROM vs_chunks"
                " WHERE vector_store_id = ? AND embedding IS NOT NULL ORDER BY id",
                (store_id,),
            )
        ]

    def _page(
        self,
        table: str,
        key: str,
        where: str,
        args: list[Any],
        limit: int,
        order: Order,
        after: str | None,
        before: str | None,
    ) -> tuple[list[str], bool]:
        """The `data` of one page of rows; KeyError names a cursor that is not in the list."""
        forward = order == "asc"
        for name, cursor, op in (("after", after, ">"), ("before", before, "<")):
            if cursor is None:
                continue
            found = self._rows(
                f"SELECT seq FROM {table} WHERE {where} AND {key} = ?", [*args, cursor]
            )
            if not found:
                raise KeyError(name)
            if not forward:
                op = "<" if op == ">" else ">"
            where, args = f"{where} AND seq {op} ?", [*args, found[0][0]]
        rows = self._rows(
            f"SELECT data FROM {table} WHERE {where} ORDER BY seq {'ASC' if forward else 'DESC'}"
            " LIMIT ?",
            [*args, limit + 1],
        )
        return [row[0] for row in rows[:limit]], len(rows) > limit
