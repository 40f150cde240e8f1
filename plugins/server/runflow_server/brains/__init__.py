"""Brains: what decides, at each model turn of a run, what the assistant does next.

`protocol` holds the streaming protocol (`Brain.respond(turn)` yields `BrainEvent`s) and the
older `decide()` one it adapts; `builtins` the tools the server runs itself; `default` the
brain of a server with no scenario. Scripted brains live in `scenario.py`.
"""

from .builtins import BuiltinContext, BuiltinOutcome, BuiltinTool, Citation, FileStorage
from .default import DefaultBrain, example_arguments
from .protocol import (
    Brain,
    BrainEvent,
    BuiltinCall,
    CallBuiltins,
    CallFunctions,
    CallTools,
    DecidingBrain,
    Decision,
    Delay,
    ErrorCode,
    Fail,
    FunctionCallDelta,
    Incomplete,
    IncompleteReason,
    Reply,
    Terminal,
    TextDelta,
    ToolCall,
    ToolResult,
    Turn,
    Usage,
    chunks,
    message_text,
    streaming,
)

__all__ = [
    "Brain",
    "BrainEvent",
    "BuiltinCall",
    "BuiltinContext",
    "BuiltinOutcome",
    "BuiltinTool",
    "CallBuiltins",
    "CallFunctions",
    "CallTools",
    "Citation",
    "DecidingBrain",
    "Decision",
    "DefaultBrain",
    "Delay",
    "ErrorCode",
    "Fail",
    "FileStorage",
    "FunctionCallDelta",
    "Incomplete",
    "IncompleteReason",
    "Reply",
    "Terminal",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "Turn",
    "Usage",
    "chunks",
    "example_arguments",
    "message_text",
    "streaming",
]
