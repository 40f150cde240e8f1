"""runflow: drive OpenAI / Azure OpenAI Assistants-style tool-calling runs to completion."""

from runflow.assistants import sync_assistant
from runflow.backends import Backend, RunReply
from runflow.backends.openai import OpenAIBackend
from runflow.clock import Clock, SystemClock
from runflow.deadline import Deadline
from runflow.dispatch import ToolCallRecord, ToolFailure, ToolPolicyError
from runflow.errors import (
    ConnectionLostError,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    RunCancelledError,
    RunError,
    RunExpiredError,
    RunFailedError,
    RunflowError,
    RunIncompleteError,
    RunNeverCreatedError,
    ServiceError,
    ServiceUnavailableError,
    StreamDroppedError,
    StreamError,
    ThreadBusyError,
    ToolArgumentsError,
    ToolCallError,
    ToolDefinitionError,
    TransientError,
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
from runflow.handle import RunHandle
from runflow.instrumentation import Instrumentation, NoInstrumentation, RunInfo
from runflow.journal import Journal
from runflow.lifecycle import RunStatus, ToolCallRequest
from runflow.result import RunResult
from runflow.retry import RetryPolicy
from runflow.runner import Runner, ThreadPolicy
from runflow.tools import ErrorPolicy, Tool, ToolContext, ToolRegistry, tool
from runflow.tracing import OpenTelemetryInstrumentation

__all__ = [
    "Backend",
    "Clock",
    "ConnectionLostError",
    "Deadline",
    "ErrorPolicy",
    "Instrumentation",
    "Journal",
    "MessageDelta",
    "NoInstrumentation",
    "OpenAIBackend",
    "OpenTelemetryInstrumentation",
    "OutputsSubmitted",
    "ProtocolError",
    "RateLimitedError",
    "RequestRejectedError",
    "RetryPolicy",
    "RunCancelledError",
    "RunError",
    "RunEvent",
    "RunExpiredError",
    "RunFailedError",
    "RunHandle",
    "RunIncompleteError",
    "RunInfo",
    "RunNeverCreatedError",
    "RunReply",
    "RunResult",
    "RunStatus",
    "RunflowError",
    "Runner",
    "ServiceError",
    "ServiceUnavailableError",
    "StatusChanged",
    "StreamDroppedError",
    "StreamError",
    "SystemClock",
    "ThreadBusyError",
    "ThreadPolicy",
    "Tool",
    "ToolArgumentsError",
    "ToolCallError",
    "ToolCallFinished",
    "ToolCallRecord",
    "ToolCallRequest",
    "ToolCallStarted",
    "ToolContext",
    "ToolDefinitionError",
    "ToolFailure",
    "ToolPolicyError",
    "ToolRegistry",
    "TransientError",
    "UnknownToolError",
    "UsageError",
    "sync_assistant",
    "tool",
]
__version__ = "0.1.0"
