"""Typed records of file search: vector stores, the files in them, file batches.

Each record is a frozen dataclass with one `to_wire()` giving the object the API sends; the
tables (`tables.py`) keep the fields as JSON, so a record read back is the record written.
Statuses are enums; a file's status only moves forward (`FileStatus.finish`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "AUTO_CHUNKING",
    "Attributes",
    "Chunking",
    "FileBatch",
    "FileCounts",
    "FileError",
    "FileStatus",
    "StoreStatus",
    "VectorStore",
    "VectorStoreFile",
]

JSON = dict[str, Any]
Attributes = dict[str, str | float | bool]


class StoreStatus(enum.StrEnum):
    """A vector store's status, derived from its files and its expiry."""

    IN_PROGRESS = "in_progress"  # some file is still being ingested
    COMPLETED = "completed"  # every file ingested (or failed): ready for search
    EXPIRED = "expired"  # `expires_at` has passed: no longer searchable


class FileStatus(enum.StrEnum):
    """A vector store file's (or a batch's) status: `in_progress`, then one end."""

    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"

    @property
    def done(self) -> bool:
        return self is not FileStatus.IN_PROGRESS

    def finish(self, target: FileStatus) -> FileStatus:
        """The status after an ingestion ends with `target`.

        Raises:
            ValueError: naming both statuses, when this one has already ended.
        """
        if self.done:
            raise ValueError(f"a vector store file cannot go from {self} to {target}")
        return target


@dataclass(frozen=True)
class Chunking:
    """A static chunking strategy; `auto` is 800 tokens with 400 of overlap."""

    max_chunk_size_tokens: int = 800
    chunk_overlap_tokens: int = 400

    def to_wire(self) -> JSON:
        return {
            "type": "static",
            "static": {
                "max_chunk_size_tokens": self.max_chunk_size_tokens,
                "chunk_overlap_tokens": self.chunk_overlap_tokens,
            },
        }


AUTO_CHUNKING = Chunking()


@dataclass(frozen=True)
class FileCounts:
    in_progress: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0

    @property
    def total(self) -> int:
        return self.in_progress + self.completed + self.failed + self.cancelled

    @classmethod
    def of(cls, statuses: list[FileStatus]) -> FileCounts:
        return cls(*(statuses.count(status) for status in _COUNTED))

    def to_wire(self) -> JSON:
        return {
            "in_progress": self.in_progress,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "total": self.total,
        }


_COUNTED = (FileStatus.IN_PROGRESS, FileStatus.COMPLETED, FileStatus.FAILED, FileStatus.CANCELLED)


@dataclass(frozen=True)
class VectorStore:
    """A vector store. `file_counts`, `usage_bytes` and the status come from its files."""

    id: str
    created_at: int
    name: str
    metadata: dict[str, str]
    last_active_at: int
    expires_after_days: int | None = None
    description: str | None = None

    @property
    def expires_at(self) -> int | None:
        if self.expires_after_days is None:
            return None
        return self.last_active_at + self.expires_after_days * 86_400

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def status(self, counts: FileCounts, now: float) -> StoreStatus:
        if self.expired(now):
            return StoreStatus.EXPIRED
        return StoreStatus.IN_PROGRESS if counts.in_progress else StoreStatus.COMPLETED

    def touched(self, now: int) -> VectorStore:
        """The store after a use (a search, a file added): `last_active_at` moves on."""
        return replace(self, last_active_at=max(self.last_active_at, now))

    def to_wire(self, counts: FileCounts, usage_bytes: int, now: float) -> JSON:
        expires_after = None
        if self.expires_after_days is not None:
            expires_after = {"anchor": "last_active_at", "days": self.expires_after_days}
        return {
            "id": self.id,
            "object": "vector_store",
            "created_at": self.created_at,
            "name": self.name,
            "usage_bytes": usage_bytes,
            "file_counts": counts.to_wire(),
            "status": self.status(counts, now).value,
            "expires_after": expires_after,
            "expires_at": self.expires_at,
            "last_active_at": self.last_active_at,
            "metadata": self.metadata,
        }


@dataclass(frozen=True)
class FileError:
    """Why a file failed: `unsupported_file`, `invalid_file` or `server_error`."""

    code: str
    message: str

    def to_wire(self) -> JSON:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class VectorStoreFile:
    """A file in a vector store; its id is the file's id."""

    id: str
    vector_store_id: str
    created_at: int
    status: FileStatus = FileStatus.IN_PROGRESS
    usage_bytes: int = 0
    attributes: Attributes = field(default_factory=dict)
    chunking: Chunking = AUTO_CHUNKING
    last_error: FileError | None = None
    batch_id: str | None = None

    def to_wire(self) -> JSON:
        return {
            "id": self.id,
            "object": "vector_store.file",
            "created_at": self.created_at,
            "vector_store_id": self.vector_store_id,
            "status": self.status.value,
            "usage_bytes": self.usage_bytes,
            "last_error": None if self.last_error is None else self.last_error.to_wire(),
            "chunking_strategy": self.chunking.to_wire(),
            "attributes": self.attributes,
        }


@dataclass(frozen=True)
class FileBatch:
    """Files added to a store together; `cancelled` once cancelled, else from its files."""

    id: str
    vector_store_id: str
    created_at: int
    cancelled: bool = False

    def status(self, counts: FileCounts) -> FileStatus:
        if self.cancelled:
            return FileStatus.CANCELLED
        if counts.in_progress:
            return FileStatus.IN_PROGRESS
        if counts.total and counts.failed == counts.total:
            return FileStatus.FAILED
        return FileStatus.COMPLETED

    def to_wire(self, counts: FileCounts) -> JSON:
        return {
            "id": self.id,
            "object": "vector_store.files_batch",
            "created_at": self.created_at,
            "vector_store_id": self.vector_store_id,
            "status": self.status(counts).value,
            "file_counts": counts.to_wire(),
        }
