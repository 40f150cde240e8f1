"""The server's records: files, assistants, threads, messages, runs and run steps, typed.

Each is a frozen pydantic model whose fields are its Assistants v2 wire fields, in the order the
hosted API sends them (the recordings in `shared/fixtures/openai-recordings`), so `to_wire("v2")`
is the model dumped as it is. `to_wire(view)` renders a record for the API shape a request asked
for (`views.View`): v1 drops the v2-only fields and puts `file_ids` back (`views.py`).

Records change by copy: `run.model_copy(update=...)`, or for a run's status `advance(run, status)`
(`lifecycle.py`), which returns the new run. Only the engine and the catalog it owns write them
(`store.Store.add` / `put`); the store keeps the v2 wire JSON, so a record is loaded back with
`from_wire`. Free-form parts (tools, step details, content, required actions, metadata) stay JSON:
the brains and tools read them as the API shapes them, and typing them would buy nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from . import views
from .lifecycle import RunStatus, StepStatus

__all__ = ["Assistant", "File", "Message", "Record", "Run", "Step", "Thread"]

JSON = dict[str, Any]
Kind = Literal["assistants", "threads", "messages", "runs", "run_steps", "files"]
R = TypeVar("R", bound="Record")


class Record(BaseModel):
    """What every record has: an id, a creation time, a table (`kind`), maybe a parent."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: ClassVar[Kind]
    # Its name in error texts, the parameter naming it, the prefix of its ids.
    names: ClassVar[tuple[str, str, str]]
    if TYPE_CHECKING:  # declared by each record, in its wire order
        id: str
        object: str
        created_at: int

    @property
    def parent(self) -> str | None:
        """The id of what the record lives under (a message's thread, a step's run)."""
        return None

    @classmethod
    def from_wire(cls: type[R], data: JSON) -> R:
        return cls.model_validate(data)

    def to_wire(self, view: views.View = "v2") -> JSON:
        wire: JSON = self.model_dump(mode="json")
        return wire


class File(Record):
    kind: ClassVar[Kind] = "files"
    names = ("file", "file_id", "")
    object: Literal["file"] = "file"
    id: str
    purpose: str
    filename: str
    bytes: int
    created_at: int
    expires_at: int | None = None
    status: str = "processed"
    status_details: str | None = None


class Assistant(Record):
    kind: ClassVar[Kind] = "assistants"
    names = ("assistant", "assistant_id", "asst")
    id: str
    object: Literal["assistant"] = "assistant"
    created_at: int
    name: str | None
    description: str | None
    model: str
    instructions: str | None
    tools: list[JSON]
    top_p: float
    temperature: float
    reasoning_effort: str | None
    tool_resources: JSON
    metadata: dict[str, str]
    response_format: Any

    def to_wire(self, view: views.View = "v2") -> JSON:
        wire = super().to_wire()
        return views.with_file_ids(wire) if view == "v1" else wire


class Thread(Record):
    kind: ClassVar[Kind] = "threads"
    names = ("thread", "thread_id", "thread")
    id: str
    object: Literal["thread"] = "thread"
    created_at: int
    metadata: dict[str, str]
    tool_resources: JSON
    # The Foundry project it was made in (`/api/projects/{p}`), kept beside it, never sent.
    project: str | None = Field(default=None, exclude=True)

    @property
    def parent(self) -> str | None:
        return self.project

    def to_wire(self, view: views.View = "v2") -> JSON:
        wire = super().to_wire()
        if view == "v1":
            del wire["tool_resources"]
        return wire


class Message(Record):
    kind: ClassVar[Kind] = "messages"
    names = ("message", "message_id", "msg")
    id: str
    object: Literal["thread.message"] = "thread.message"
    created_at: int
    assistant_id: str | None
    thread_id: str
    run_id: str | None
    status: Literal["in_progress", "incomplete", "completed"]
    incomplete_details: JSON | None = None
    incomplete_at: int | None = None
    completed_at: int | None = None
    role: Literal["user", "assistant"]
    content: list[JSON]
    attachments: list[JSON] = []
    metadata: dict[str, str] = {}

    @property
    def parent(self) -> str | None:
        return self.thread_id

    def to_wire(self, view: views.View = "v2") -> JSON:
        wire = super().to_wire()
        return views.message_v1(wire) if view == "v1" else wire


class Run(Record):
    kind: ClassVar[Kind] = "runs"
    names = ("run", "run_id", "run")
    id: str
    object: Literal["thread.run"] = "thread.run"
    created_at: int
    assistant_id: str
    thread_id: str
    status: RunStatus = RunStatus.QUEUED
    started_at: int | None = None
    expires_at: int | None
    cancelled_at: int | None = None
    failed_at: int | None = None
    completed_at: int | None = None
    required_action: JSON | None = None
    last_error: JSON | None = None
    model: str
    instructions: str
    tools: list[JSON]
    tool_resources: JSON = {}
    metadata: dict[str, str]
    temperature: float | None
    top_p: float | None
    reasoning_effort: str | None
    max_completion_tokens: int | None
    max_prompt_tokens: int | None
    truncation_strategy: JSON
    incomplete_details: JSON | None = None
    usage: JSON | None = None
    response_format: Any
    tool_choice: Any
    parallel_tool_calls: bool

    @property
    def parent(self) -> str | None:
        return self.thread_id

    @property
    def tool_calls(self) -> list[JSON]:
        """The calls of `required_action` (none unless the run requires action)."""
        if self.required_action is None:
            return []
        calls: list[JSON] = self.required_action["submit_tool_outputs"]["tool_calls"]
        return calls

    def to_wire(self, view: views.View = "v2") -> JSON:
        wire = super().to_wire()
        return views.with_file_ids(wire) if view == "v1" else wire


class Step(Record):
    kind: ClassVar[Kind] = "run_steps"
    names = ("run step", "step_id", "step")
    id: str
    object: Literal["thread.run.step"] = "thread.run.step"
    created_at: int
    run_id: str
    assistant_id: str
    thread_id: str
    type: Literal["message_creation", "tool_calls"]
    status: StepStatus = StepStatus.IN_PROGRESS
    cancelled_at: int | None = None
    completed_at: int | None = None
    expires_at: int | None
    expired_at: int | None = None
    failed_at: int | None = None
    last_error: JSON | None = None
    step_details: JSON
    usage: JSON | None = None
    metadata: dict[str, str] = {}

    @property
    def parent(self) -> str | None:
        return self.run_id

    @property
    def message_id(self) -> str | None:
        """The message a message_creation step made."""
        creation = self.step_details.get("message_creation")
        return None if creation is None else str(creation["message_id"])

    def to_wire(self, view: views.View = "v2") -> JSON:
        wire = super().to_wire()
        if view == "v1":
            views.step_details_v1(wire["step_details"])
        return wire
