"""What the server keeps about a run and never sends: `RunState`, the store's `state` column of a
run, typed. It is written in the same transaction as the run it belongs to."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from .brains import Citation, ToolResult

__all__ = ["BuiltinState", "RunState"]


class BuiltinState(BaseModel):
    """What the run's built-in calls produced, for the annotations of later messages."""

    model_config = ConfigDict(frozen=True)
    sandbox_files: dict[str, str] = {}  # sandbox path -> file id
    citations: tuple[Citation, ...] = ()


class RunState(BaseModel):
    model_config = ConfigDict(frozen=True)
    include: tuple[str, ...] = ()  # the creating request's include[], for built-in tools
    rounds: tuple[tuple[ToolResult, ...], ...] = ()  # the tool rounds so far, as the brain sees
    tool_step: dict[str, Any] | None = None  # the step waiting for outputs: its id and usage
    builtin: BuiltinState = BuiltinState()
    images: tuple[str, ...] = ()  # image files of built-in calls, for the next message

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = self.model_dump(mode="json")
        return wire
