"""The `code_interpreter` built-in tool: a brain's call, run in the thread's session.

```python
tool = CodeInterpreterTool(SessionConfig(max_sessions=8))
app = create_app(builtin_tools=[tool])      # create_app makes one by default
```

One call: the files of `tool_resources.code_interpreter.file_ids` (the assistant's and the
thread's) and of the thread's message attachments for `code_interpreter` are put in
`/mnt/data` (each once per session), the code runs in the thread's session, and the outcome
is the hosted API's step body: `{"input": code, "outputs": [{"type": "logs", "logs": ...},
{"type": "image", "image": {"file_id": ...}}]}`. Images become files (purpose
`assistants_output`, PNG) shown before the next message's text; files written under
`/mnt/data` become files too (named by their sandbox path, as the hosted API named them), so
that `sandbox:/mnt/data/NAME` links in the message become `file_path` annotations.

Whatever goes wrong (no bubblewrap, the extra missing, every session busy, a kernel that will
not start, a limit) ends the call with an error log the brain reads; the run goes on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import anyio

from ..brains import BuiltinCall, BuiltinContext, BuiltinOutcome, BuiltinTool
from ..records import Message
from ..store import Store
from . import MissingExtra
from .config import SessionConfig
from .outputs import ImageOutput, LogOutput
from .sandbox import SandboxUnavailable
from .workspace import InputFile

if TYPE_CHECKING:
    from .sessions import CodeSessions, Execution

__all__ = ["CodeInterpreterTool", "with_code_interpreter"]

JSON = dict[str, Any]
Attachments = Callable[[str], Iterable[str]]  # thread id -> file ids attached for the tool


class CodeInterpreterTool:
    """Runs `code_interpreter` calls in one session per thread.

    Args:
        sessions: the sessions to run in, or the config to make them with on the first call
            (the default config when None). Made lazily, so that a server without bubblewrap
            starts, and its code interpreter calls say what to install.
        attachments: the file ids that a thread's messages attach for `code_interpreter`.
    """

    type = "code_interpreter"

    def __init__(
        self,
        sessions: CodeSessions | SessionConfig | None = None,
        *,
        attachments: Attachments | None = None,
    ) -> None:
        self._config = sessions if isinstance(sessions, SessionConfig) else SessionConfig()
        self._sessions: CodeSessions | None = (
            None if sessions is None or isinstance(sessions, SessionConfig) else sessions
        )
        self._attachments = attachments
        self._lock = anyio.Lock()

    async def sessions(self) -> CodeSessions:
        """The sessions, made on first use.

        Raises:
            SandboxUnavailable: bubblewrap is missing and unsandboxed sessions are not allowed.
            MissingExtra: the `code-interpreter` extra is not installed.
        """
        async with self._lock:
            if self._sessions is None:
                from .sessions import CodeSessions

                self._sessions = CodeSessions(self._config)
            return self._sessions

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        """Run the call's code in the session of the run's thread."""
        thread_id = str(context.run["thread_id"])
        try:
            sessions = await self.sessions()
            inputs = self._inputs(context, thread_id)
            execution = await sessions.execute(thread_id, call.input, inputs)
        except (SandboxUnavailable, MissingExtra) as exc:
            return _failed(call.input, f"Code interpreter is not available: {exc}")
        except (RuntimeError, ValueError, OSError) as exc:  # busy, no start, files too large
            return _failed(call.input, f"Code interpreter could not run this code: {exc}")
        return _outcome(call.input, execution, context)

    async def aclose(self) -> None:
        """End every session (the server is shutting down)."""
        if self._sessions is not None:
            await self._sessions.aclose()

    def _inputs(self, context: BuiltinContext, thread_id: str) -> list[InputFile]:
        ids = [
            *_resource_files(context.assistant),
            *_resource_files(context.thread),
            *(self._attachments(thread_id) if self._attachments else ()),
        ]
        inputs: list[InputFile] = []
        for file_id in dict.fromkeys(ids):  # in order, once each
            found = context.files.get(file_id)
            if found is None:  # deleted since it was attached
                continue
            name = str(found.get("filename") or file_id)

            def read(file_id: str = file_id) -> bytes:
                return context.files.read(file_id)

            inputs.append(InputFile(name, file_id, read))
        return inputs


def _resource_files(record: Mapping[str, Any]) -> list[str]:
    resources = record.get("tool_resources") or {}
    code = resources.get("code_interpreter") or {}
    return [str(file_id) for file_id in code.get("file_ids") or []]


def _outcome(code: str, execution: Execution, context: BuiltinContext) -> BuiltinOutcome:
    outputs: list[JSON] = []
    images: list[str] = []
    for output in execution.outputs:
        if isinstance(output, LogOutput):
            outputs.append({"type": "logs", "logs": output.text})
        elif isinstance(output, ImageOutput):
            name = f"code_interpreter_image_{len(images) + 1}.png"
            file_id = context.files.create_file(name, output.png, "assistants_output")
            images.append(file_id)
            outputs.append({"type": "image", "image": {"file_id": file_id}})
    written = {
        file.path: context.files.create_file(file.path, file.content, "assistants_output")
        for file in execution.files
    }
    return BuiltinOutcome(
        details={"input": code, "outputs": outputs},
        output=execution.logs,
        image_file_ids=tuple(images),
        sandbox_files=written,
    )


def _failed(code: str, message: str) -> BuiltinOutcome:
    return BuiltinOutcome(
        details={"input": code, "outputs": [{"type": "logs", "logs": message}]}, output=message
    )


def with_code_interpreter(
    tools: Sequence[BuiltinTool], config: SessionConfig | Literal[False] | None, store: Store
) -> list[BuiltinTool]:
    """`tools`, plus a `CodeInterpreterTool` made from `config` unless `tools` has one or
    `config` is False (`create_app`'s default set)."""
    if config is False or any(tool.type == CodeInterpreterTool.type for tool in tools):
        return list(tools)

    def attachments(thread_id: str) -> list[str]:
        return [
            str(attachment["file_id"])
            for message in store.children(Message, thread_id)
            for attachment in message.attachments
            if any(t.get("type") == "code_interpreter" for t in attachment.get("tools") or [])
        ]

    return [*tools, CodeInterpreterTool(config, attachments=attachments)]
