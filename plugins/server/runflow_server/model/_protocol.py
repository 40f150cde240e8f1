"""The streaming brain protocol (`runflow_server.brains`), as the model brain imports it."""

from __future__ import annotations

from ..brains import (
    BrainEvent,
    BuiltinCall,
    CallBuiltins,
    CallFunctions,
    Delay,
    ErrorCode,
    Fail,
    FunctionCallDelta,
    Incomplete,
    IncompleteReason,
    TextDelta,
    ToolCall,
    ToolResult,
    Turn,
    Usage,
)

__all__ = [
    "BrainEvent",
    "BuiltinCall",
    "CallBuiltins",
    "CallFunctions",
    "Delay",
    "ErrorCode",
    "Fail",
    "FunctionCallDelta",
    "Incomplete",
    "IncompleteReason",
    "TextDelta",
    "ToolCall",
    "ToolResult",
    "Turn",
    "Usage",
]
