"""`FileSearch`: the one owner of vector stores, their files and chunks.

Routes and the `file_search` tool go through it. Adding a file records it `in_progress` and
starts a background task (off the request path; `INGESTING_AT_ONCE` files at a time) that
reads the upload, extracts its text (in a worker thread), cuts it into chunks, embeds them
when an embeddings endpoint is set, and writes them in one transaction; the file ends
`completed`, or `failed` with a `last_error` (`unsupported_file`, `invalid_file`,
`server_error`). A file deleted or a batch cancelled while it is ingested has its task
cancelled. A server restarted on its database ingests again the files it left `in_progress`.

A server has one, attached to its store (`FileSearch.attach`, called by `create_app` with the
embeddings endpoint it was given); `FileSearch.of(store, now)` finds it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import weakref
from collections.abc import Callable, Sequence
from dataclasses import replace

import anyio

from ..objects import new_id
from ..records import File
from ..store import Store
from .chunking import chunk_text
from .embeddings import Embedder, pack
from .parsing import UnreadableFile, extract_text
from .records import (
    AUTO_CHUNKING,
    Attributes,
    Chunking,
    FileBatch,
    FileCounts,
    FileError,
    FileStatus,
    VectorStore,
    VectorStoreFile,
)
from .search import Hit, Query, Searcher
from .tables import Tables

__all__ = ["FileSearch", "NoSuchUpload"]

log = logging.getLogger(__name__)
_BY_STORE: weakref.WeakKeyDictionary[Store, FileSearch] = weakref.WeakKeyDictionary()
INGESTING_AT_ONCE = 4  # files parsed and embedded at the same time; the others wait their turn


class NoSuchUpload(LookupError):
    """The file id names no uploaded file."""


class FileSearch:
    """Vector stores on the server's store.

    Args:
        store: the server's SQLite store (the uploads live there too).
        now: the server's clock, epoch seconds.
        embedder: where embeddings come from; None for BM25 only.
    """

    def __init__(
        self, store: Store, now: Callable[[], float], embedder: Embedder | None = None
    ) -> None:
        self.store = store
        self.now = now
        self.tables = Tables(store)
        self.searcher = Searcher(self.tables, embedder)
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}
        self._resumed = False
        self._slots: asyncio.Semaphore | None = None  # made on the loop that ingests

    @classmethod
    def attach(
        cls, store: Store, now: Callable[[], float], embedder: Embedder | None = None
    ) -> FileSearch:
        """The file search of a server's store, made now (`create_app` does it)."""
        made = cls(store, now, embedder)
        _BY_STORE[store] = made
        return made

    @classmethod
    def of(cls, store: Store, now: Callable[[], float]) -> FileSearch:
        """The file search attached to `store` (one is attached, BM25 only, if none was);
        on first use it resumes what a previous server left in progress."""
        found = _BY_STORE.get(store)
        if found is None:
            found = cls.attach(store, now)
        found.resume()
        return found

    def _now(self) -> int:
        return int(self.now())

    # Stores.

    def create_store(
        self,
        *,
        name: str,
        metadata: dict[str, str],
        expires_after_days: int | None,
        description: str | None = None,
    ) -> VectorStore:
        now = self._now()
        created = VectorStore(
            new_id("vs_"), now, name, metadata, now, expires_after_days, description
        )
        self.tables.insert_store(created)
        return created

    def wire(self, store: VectorStore) -> dict[str, object]:
        counts = FileCounts.of(self.tables.statuses(store.id))
        return store.to_wire(counts, self.tables.usage_bytes(store.id), self.now())

    def delete_store(self, store_id: str) -> None:
        for key in [key for key in self._tasks if key[0] == store_id]:
            self._tasks.pop(key).cancel()
        self.tables.delete_store(store_id)
        self.searcher.generation += 1

    # Files.

    def upload(self, file_id: str) -> tuple[str, bytes]:
        """The name and bytes of an uploaded file; NoSuchUpload if there is none."""
        found = self.store.get(File, file_id)
        if found is None:
            raise NoSuchUpload(file_id)
        content = self.store.state("files", file_id).get("content", "")
        return found.filename, base64.b64decode(content)

    def add_file(
        self,
        store: VectorStore,
        file_id: str,
        *,
        attributes: Attributes | None = None,
        chunking: Chunking = AUTO_CHUNKING,
        batch_id: str | None = None,
    ) -> VectorStoreFile:
        """Add (or add again) an uploaded file to a store and start ingesting it."""
        self.upload(file_id)  # raises before anything is written
        self._cancel(store.id, file_id)
        now = self._now()
        added = VectorStoreFile(
            file_id, store.id, now, attributes=attributes or {}, chunking=chunking,
            batch_id=batch_id,
        )  # fmt: skip
        with self.store.transaction():
            if self.tables.get_file(store.id, file_id) is not None:
                self.tables.delete_file(store.id, file_id)
            self.tables.insert_file(added)
            self.tables.save_store(store.touched(now))
        self._start(added)
        return added

    def delete_file(self, store_id: str, file_id: str) -> None:
        self._cancel(store_id, file_id)
        self.tables.delete_file(store_id, file_id)
        self.searcher.generation += 1

    def create_batch(
        self, store: VectorStore, files: Sequence[tuple[str, Attributes | None, Chunking]]
    ) -> FileBatch:
        """A batch of files added together; NoSuchUpload (nothing added) if one is unknown."""
        for file_id, _, _ in files:
            self.upload(file_id)
        batch = FileBatch(new_id("vsfb_"), store.id, self._now())
        self.tables.insert_batch(batch)
        for file_id, attributes, chunking in files:
            self.add_file(
                store, file_id, attributes=attributes, chunking=chunking, batch_id=batch.id
            )
        return batch

    def batch_wire(self, batch: FileBatch) -> dict[str, object]:
        counts = FileCounts.of(self.tables.statuses(batch.vector_store_id, batch.id))
        return batch.to_wire(counts)

    def cancel_batch(self, batch: FileBatch) -> FileBatch:
        """Stop the batch's files still in progress (they end `cancelled`)."""
        if batch.status(FileCounts.of(self.tables.statuses(batch.vector_store_id, batch.id))).done:
            return batch
        files, _ = self.tables.page_files(
            batch.vector_store_id, 10_000, "asc", None, None,
            status=FileStatus.IN_PROGRESS, batch_id=batch.id,
        )  # fmt: skip
        with self.store.transaction():
            for file in files:
                self._cancel(file.vector_store_id, file.id)
                self.tables.save_file(replace(file, status=FileStatus.CANCELLED))
            cancelled = replace(batch, cancelled=True)
            self.tables.save_batch(cancelled)
        return cancelled

    # Search.

    async def search(self, store_ids: Sequence[str], query: Query) -> list[Hit]:
        """Search the stores (expired ones are left out); each searched store is touched."""
        now = self._now()
        live: list[str] = []
        for store_id in store_ids:
            store = self.tables.get_store(store_id)
            if store is not None and not store.expired(now):
                self.tables.save_store(store.touched(now))
                live.append(store_id)
        if not live:
            return []
        files = [f for f in self.tables.files(live) if f.status is FileStatus.COMPLETED]
        return await self.searcher.search(live, files, query)

    # Ingestion.

    def resume(self) -> None:
        """Ingest again what a previous server left in progress (once, on first use)."""
        if self._resumed:
            return
        self._resumed = True
        for file in self.tables.files_in_progress():
            self._start(file)

    def _start(self, file: VectorStoreFile) -> None:
        key = (file.vector_store_id, file.id)
        task = asyncio.get_running_loop().create_task(self._ingest(file))
        self._tasks[key] = task
        task.add_done_callback(lambda done: self._forget(key, done))

    def _forget(self, key: tuple[str, str], task: asyncio.Task[None]) -> None:
        if self._tasks.get(key) is task:
            del self._tasks[key]

    def _current(self, file: VectorStoreFile) -> bool:
        """Whether the running task is still the one ingesting `file` (not cancelled, not
        replaced by the same file added again)."""
        return self._tasks.get((file.vector_store_id, file.id)) is asyncio.current_task()

    def _cancel(self, store_id: str, file_id: str) -> None:
        task = self._tasks.pop((store_id, file_id), None)
        if task is not None:
            task.cancel()

    async def _ingest(self, file: VectorStoreFile) -> None:
        try:
            usage, chunks = await self._chunks(file)
        except UnreadableFile as exc:
            return self._finish(file, FileStatus.FAILED, 0, FileError(exc.code, exc.message))
        except NoSuchUpload:
            error = FileError("invalid_file", f"The file {file.id} was deleted before ingestion.")
            return self._finish(file, FileStatus.FAILED, 0, error)
        except Exception as exc:  # an embeddings endpoint down, a parser bug: the file fails
            log.exception("ingesting %s into %s failed", file.id, file.vector_store_id)
            error = FileError("server_error", f"The file could not be processed: {exc}")
            return self._finish(file, FileStatus.FAILED, 0, error)
        if not self._current(file):
            return  # deleted, replaced or cancelled meanwhile
        with self.store.transaction():
            self.tables.add_chunks(file.vector_store_id, file.id, chunks)
            self._finish(file, FileStatus.COMPLETED, usage, None)
        self.searcher.generation += 1

    async def _chunks(self, file: VectorStoreFile) -> tuple[int, list[tuple[str, bytes | None]]]:
        if self._slots is None:
            self._slots = asyncio.Semaphore(INGESTING_AT_ONCE)
        async with self._slots:
            return await self._chunk_file(file)

    async def _chunk_file(
        self, file: VectorStoreFile
    ) -> tuple[int, list[tuple[str, bytes | None]]]:
        filename, data = self.upload(file.id)
        text = await anyio.to_thread.run_sync(extract_text, filename, data)
        pieces = await anyio.to_thread.run_sync(chunk_text, text, file.chunking)
        texts = [piece.text for piece in pieces]
        vectors: list[bytes | None] = [None] * len(texts)
        if self.searcher.embedder is not None and texts:
            vectors = [pack(v) for v in await self.searcher.embedder.embed(texts)]
        usage = sum(len(t.encode()) for t in texts) + sum(len(v or b"") for v in vectors)
        return usage, list(zip(texts, vectors, strict=True))

    def _finish(
        self, file: VectorStoreFile, target: FileStatus, usage: int, error: FileError | None
    ) -> None:
        current = self.tables.get_file(file.vector_store_id, file.id)
        if current is None or current.status.done or not self._current(file):
            return
        ended = replace(
            current, status=current.status.finish(target), usage_bytes=usage, last_error=error
        )
        self.tables.save_file(ended)

    async def wait_ready(self, store_ids: Sequence[str]) -> None:
        """Wait for the stores' files still being ingested, as a run's search on the hosted
        API waited for its vector stores to be ready (the caller bounds the wait)."""
        pending = [task for key, task in self._tasks.items() if key[0] in store_ids]
        if pending:
            await asyncio.wait(pending)

    async def wait_idle(self) -> None:
        """Wait until no file is being ingested."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def aclose(self) -> None:
        """Cancel the ingestions under way (their files stay `in_progress`, resumed later)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
