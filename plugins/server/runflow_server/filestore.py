"""The server's files as built-in tools use them (`brains.FileStorage`): kept in the store, as
uploads are, so a file a tool writes can be downloaded like any other."""

from __future__ import annotations

import base64
from typing import Any

from .clock import Clock
from .objects import file_object
from .records import File
from .store import Store

__all__ = ["StoredFiles"]


class StoredFiles:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock

    def create_file(self, name: str, data: bytes, purpose: str) -> str:
        return self.add(name, data, purpose).id

    def add(self, name: str, data: bytes, purpose: str, *, expires_at: int | None = None) -> File:
        """A new file record, its bytes kept beside it (an upload, or a file a tool made)."""
        created = file_object(
            name, len(data), purpose, created_at=int(self._clock.now()), expires_at=expires_at
        )
        self._store.add(created, state={"content": base64.b64encode(data).decode()})
        return created

    def read(self, file_id: str) -> bytes:
        if self._store.get(File, file_id) is None:
            raise KeyError(file_id)
        return base64.b64decode(self._store.state("files", file_id)["content"])

    def get(self, file_id: str) -> dict[str, Any] | None:
        found = self._store.get(File, file_id)
        return None if found is None else found.to_wire()
