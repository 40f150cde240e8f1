"""Assistants, threads and messages: every change to them, each one synchronous call.

Routes parse the whole request first, then call one of these. Each reads the record, checks,
and writes only the fields the request sets, with no `await` in between, so a concurrent request
(or the run engine) can never have its change overwritten by a stale copy, and an object deleted
meanwhile is a 404, not a resurrection.

`check_tool_resources` refuses `tool_resources` naming a file or a vector store that does not
exist, with a 404 as for message attachments. A vector store exists when the app's
`vector_store_exists` says so, or when the server made it up for a `vector_stores` helper of
an assistant or thread that still names it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from .bodies import (
    MAX_CODE_FILES,
    AssistantBody,
    MessageBody,
    MetadataBody,
    ThreadBody,
    ThreadUpdateBody,
    ToolResources,
)
from .errors import bad_request, not_found
from .objects import (
    assistant_object,
    assistant_update,
    thread_object,
    tool_resources_object,
    user_message_object,
)
from .records import Assistant, File, Message, Thread
from .store import Store

if TYPE_CHECKING:
    from .engine import RunEngine

__all__ = ["Catalog"]


class Catalog:
    """The non-run records; `engine` supplies lookups (with the API's 400/404s) and the time."""

    def __init__(
        self,
        store: Store,
        engine: RunEngine,
        vector_store_exists: Callable[[str], bool],
    ) -> None:
        self._store = store
        self._engine = engine
        self._vector_store_exists = vector_store_exists

    def check_tool_resources(self, resources: ToolResources | None) -> None:
        """404 for a file or vector store id in `tool_resources` that does not exist."""
        if resources is None:
            return
        if resources.code_interpreter is not None:
            for file_id in resources.code_interpreter.file_ids:
                if self._store.get(File, file_id) is None:
                    raise not_found("file", file_id)
        if resources.file_search is not None:
            for store_id in resources.file_search.vector_store_ids or []:
                known = self._vector_store_exists(store_id)
                if not known and not self._store.names_vector_store(store_id):
                    raise not_found("vector store", store_id)

    def check_attachments(self, messages: Iterable[MessageBody]) -> None:
        """404 for an attachment naming a file that was never uploaded (or was deleted)."""
        for message in messages:
            for attachment in message.attachments or []:
                if self._store.get(File, attachment.file_id) is None:
                    raise not_found("file", attachment.file_id)

    def create_assistant(self, body: AssistantBody) -> Assistant:
        self._engine.brains.check_metadata(body.metadata)
        self.check_tool_resources(body.tool_resources)
        assistant = assistant_object(body, created_at=self._engine.now())
        self._store.add(assistant)
        return assistant

    def update_assistant(self, assistant_id: str, body: AssistantBody) -> Assistant:
        self._engine.brains.check_metadata(body.metadata)
        self.check_tool_resources(body.tool_resources)
        updated = assistant_update(self._engine.assistant(assistant_id), body)
        self._store.put(updated)
        return updated

    def attach_file(self, assistant_id: str, file_id: str, *, attach: bool = True) -> Assistant:
        """The assistant with `file_id` in (or out of, `attach=False`) its code interpreter's
        files (v1's assistant files); 404 for a file that does not exist, 400 past `MAX_CODE_FILES`;
        attaching an attached file leaves it where it is."""
        assistant = self._engine.assistant(assistant_id)
        if attach and self._store.get(File, file_id) is None:
            raise not_found("file", file_id)
        code = assistant.tool_resources.get("code_interpreter") or {}
        if attach and file_id in code.get("file_ids", []):
            return assistant
        file_ids = [known for known in code.get("file_ids", []) if known != file_id]
        if attach and len(file_ids) >= MAX_CODE_FILES:
            raise bad_request(
                f"Invalid 'file_id': an assistant can have at most {MAX_CODE_FILES} files"
                " attached.",
                param="file_id",
            )
        code = {**code, "file_ids": [*file_ids, file_id] if attach else file_ids}
        resources = {**assistant.tool_resources, "code_interpreter": code}
        assistant = assistant.model_copy(update={"tool_resources": resources})
        self._store.put(assistant)
        return assistant

    def create_thread(self, body: ThreadBody, *, project: str | None = None) -> Thread:
        """A thread with its initial messages, in one transaction; `project`: the Foundry
        project it is made in (its `GET /threads` lists it)."""
        now = self._engine.now()
        self.check_attachments(body.messages or [])
        self.check_tool_resources(body.tool_resources)
        thread = thread_object(body, created_at=now, project=project)
        with self._store.transaction():
            self._store.add(thread)
            for message in body.messages or []:
                self._store.add(user_message_object(thread.id, message, created_at=now))
        return thread

    def update_thread(self, thread_id: str, body: ThreadUpdateBody) -> Thread:
        self.check_tool_resources(body.tool_resources)
        update: dict[str, object] = {}
        if body.tool_resources is not None:
            update["tool_resources"] = tool_resources_object(body.tool_resources)
        if body.metadata is not None:
            update["metadata"] = body.metadata
        thread = self._engine.thread(thread_id).model_copy(update=update)
        self._store.put(thread)
        return thread

    def message(self, thread_id: str, message_id: str) -> Message:
        thread = self._engine.thread(thread_id)
        return self._engine.get(Message, message_id, parent=thread.id)

    def update_message(self, thread_id: str, message_id: str, body: MetadataBody) -> Message:
        message = self.message(thread_id, message_id)
        if body.metadata is not None:
            message = message.model_copy(update={"metadata": body.metadata})
            self._store.put(message)
        return message
