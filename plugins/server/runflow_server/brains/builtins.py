"""Built-in tools: the tools the server runs itself inside a run (code interpreter, file search).

A brain asks for them with `CallBuiltins`; the engine looks each call's `type` up among the
`BuiltinTool`s the app was given (`create_app(builtin_tools=[...])`), runs it with a
`BuiltinContext`, and writes the `BuiltinOutcome` into the run's `tool_calls` step. A tool that
raises (or overruns its deadline) ends that call with an error in its outputs, never the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .protocol import BuiltinCall

__all__ = ["BuiltinContext", "BuiltinOutcome", "BuiltinTool", "Citation", "FileStorage"]

JSON = dict[str, Any]


class FileStorage(Protocol):
    """The server's files, as a built-in tool may use them."""

    def create_file(self, name: str, data: bytes, purpose: str) -> str:
        """Store a new file; its id."""
        ...

    def read(self, file_id: str) -> bytes:
        """A file's bytes; KeyError if there is no such file."""
        ...

    def get(self, file_id: str) -> JSON | None:
        """A file's wire object, or None."""
        ...


@dataclass(frozen=True)
class Citation:
    """A file search result a message may cite with a `【i:j†source】` marker."""

    file_id: str
    file_name: str
    quote: str = ""


@dataclass(frozen=True)
class BuiltinContext:
    """What a built-in call runs against."""

    run: Mapping[str, Any]  # the run's wire object: thread_id, assistant_id, tools...
    assistant: Mapping[str, Any]
    thread: Mapping[str, Any]  # incl. tool_resources
    files: FileStorage
    include: frozenset[str]  # the request's include[] (file_search result content)
    deadline: float  # engine clock epoch seconds: stop before it


@dataclass(frozen=True)
class BuiltinOutcome:
    """The result of one built-in call.

    `details` is the step's tool call body (`{"input", "outputs"}` or `{"ranking_options",
    "results"}`); the engine wraps it as `{"id", "type", <type>: details}`. `output` is what
    the brain reads back.
    """

    details: JSON
    output: str
    image_file_ids: tuple[str, ...] = ()  # image_file parts before the next message's text
    sandbox_files: Mapping[str, str] = field(default_factory=dict)  # "/mnt/data/x" -> file id
    citations: tuple[Citation, ...] = ()


class BuiltinTool(Protocol):
    """A tool the server runs, found by its `type`."""

    type: str

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome: ...
