"""`DecidingModelBrain`: the model brain behind the engine's older `decide()` protocol.

Until the engine asks brains for streams (`Brain.respond`), this adapter lets a server run on
a model today: it reads the model's whole turn, then answers one decision. What it cannot do:
publish deltas as they arrive, keep the model's call ids, run built-in tools (a `python` or
`file_search` call fails the run with a clear `last_error`). Remove it once the engine streams.
"""

from __future__ import annotations

from .. import brains as legacy
from . import _protocol as events
from .brain import ModelBrain

__all__ = ["DecidingModelBrain"]


class DecidingModelBrain:
    """A `decide()` brain that asks a `ModelBrain` (see the module docstring)."""

    def __init__(self, brain: ModelBrain) -> None:
        self.brain = brain

    async def decide(self, turn: legacy.Turn) -> legacy.Decision:
        streaming = events.Turn(
            run=turn.run,
            assistant=turn.assistant,
            messages=turn.messages,
            rounds=[
                [events.ToolResult(r.call_id, r.name, r.arguments, r.output) for r in round_]
                for round_ in turn.rounds
            ],
            memory=turn.memory,
        )
        text: list[str] = []
        async for event in self.brain.respond(streaming):
            if isinstance(event, events.TextDelta):
                text.append(event.text)
            elif isinstance(event, events.CallFunctions):
                calls = tuple(legacy.ToolCall(c.name, c.arguments) for c in event.calls)
                return legacy.CallTools(calls)
            elif isinstance(event, events.CallBuiltins):
                message = "Built-in tool calls need the streaming engine."
                return legacy.Fail("server_error", message)
            elif isinstance(event, events.Fail):
                return legacy.Fail(event.code, event.message)
            elif isinstance(event, events.Incomplete):
                return legacy.Incomplete(event.reason)
        return legacy.Reply("".join(text))
