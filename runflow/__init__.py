"""runflow: drive OpenAI / Azure OpenAI Assistants-style tool-calling runs to completion."""

from runflow.backends import Backend
from runflow.backends.openai import OpenAIBackend
from runflow.clock import Clock, SystemClock
from runflow.deadline import Deadline
from runflow.dispatch import ToolCallRecord, ToolFailure
from runflow.errors import (
    ProtocolError,
    RequestRejectedError,
    RunCancelledError,
    RunError,
    RunExpiredError,
    RunFailedError,
    RunflowError,
    RunIncompleteError,
    StreamError,
    ToolArgumentsError,
    ToolCallError,
    ToolDefinitionError,
    UnknownToolError,
    UsageError,
)
from runflow.events import (
    MessageDelta,
    OutputsSubmitted,
    RunEvent,
    StatusChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from runflow.lifecycle import RunStatus, ToolCallRequest
from runflow.runner import Runner, RunResult
from runflow.tools import Tool, ToolRegistry, tool

__all__ = [
    "Backend",
    "Clock",
    "Deadline",
    "MessageDelta",
    "OpenAIBackend",
    "OutputsSubmitted",
    "ProtocolError",
    "RequestRejectedError",
    "RunCancelledError",
    "RunError",
    "RunEvent",
    "RunExpiredError",
    "RunFailedError",
    "RunIncompleteError",
    "RunResult",
    "RunStatus",
    "RunflowError",
    "Runner",
    "StatusChanged",
    "StreamError",
    "SystemClock",
    "Tool",
    "ToolArgumentsError",
    "ToolCallError",
    "ToolCallFinished",
    "ToolCallRecord",
    "ToolCallRequest",
    "ToolCallStarted",
    "ToolDefinitionError",
    "ToolFailure",
    "ToolRegistry",
    "UnknownToolError",
    "UsageError",
    "tool",
]
__version__ = "0.1.0"
