"""runflow: drive OpenAI / Azure OpenAI Assistants-style tool-calling runs to completion."""

from runflow.assistants import sync_assistant
from runflow.backends import Backend, EventStream, RunReply, ToolOutput
from runflow.backends.openai import OpenAIBackend
from runflow.clock import Clock, SystemClock
from runflow.deadline import Deadline
from runflow.dispatch import ToolCallObserver, ToolCallRecord, ToolFailure, dispatch_batch
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
    ToolPolicyError,
    TransientError,
    UnknownToolError,
    UsageError,
)
from runflow.events import (
    EventCallback,
    MessageDelta,
    OutputsSubmitted,
    RunEvent,
    StatusChanged,
    ToolCallFinished,
    ToolCallStarted,
)
from runflow.handle import RunHandle
from runflow.instrumentation import Instrumentation, NoInstrumentation, RunInfo, RunObserver
from runflow.journal import Journal
from runflow.lifecycle import (
    Abort,
    Decision,
    Dispatch,
    Finish,
    RunSnapshot,
    RunStatus,
    ToolCallRequest,
    Wait,
    decide,
)
from runflow.result import RunResult
from runflow.retry import RetryPolicy
from runflow.runner import Runner, ThreadPolicy
from runflow.tools import ErrorPolicy, Tool, ToolContext, ToolRegistry, tool
from runflow.tracing import OpenTelemetryInstrumentation

__all__ = [
    "Abort",
    "Backend",
    "Clock",
    "ConnectionLostError",
    "Deadline",
    "Decision",
    "Dispatch",
    "ErrorPolicy",
    "EventCallback",
    "EventStream",
    "Finish",
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
    "RunObserver",
    "RunReply",
    "RunResult",
    "RunSnapshot",
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
    "ToolCallObserver",
    "ToolCallRecord",
    "ToolCallRequest",
    "ToolCallStarted",
    "ToolContext",
    "ToolDefinitionError",
    "ToolFailure",
    "ToolOutput",
    "ToolPolicyError",
    "ToolRegistry",
    "TransientError",
    "UnknownToolError",
    "UsageError",
    "Wait",
    "decide",
    "dispatch_batch",
    "sync_assistant",
    "tool",
]
__version__ = "0.1.0"
