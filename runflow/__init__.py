"""runflow: drive OpenAI / Azure OpenAI Assistants-style tool-calling runs to completion.

The public surface is this package's `__all__`, plus two modules imported by path:
`runflow.backends` (the `Backend` protocol and its records, for writing a backend of your own)
and `runflow.testing` (`FakeClock`, `LocalServer`; `runflow.clock` holds the `Clock` protocol it
implements). Every module whose name starts with `_` is private: its names may move or change
without notice; those meant for users are re-exported here, the one place to import them from.
"""

from runflow._assistants import sync_assistant
from runflow._deadline import Deadline
from runflow._dispatch import ToolCallRecord, ToolFailure
from runflow._errors import (
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
from runflow._events import (
    EventCallback,
    MessageDelta,
    OutputsSubmitted,
    RunCreated,
    RunEnded,
    RunEvent,
    RunPolled,
    RunRequested,
    RunSink,
    StatusChanged,
    StepSeen,
    SubmissionEnded,
    ToolCallAbandoned,
    ToolCallFinished,
    ToolCallStarted,
)
from runflow._handle import RunHandle
from runflow._instrumentation import Instrumentation, NoInstrumentation, RunInfo, RunObserver
from runflow._journal import Journal, JournaledOutput, JournaledRun
from runflow._lifecycle import (
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
from runflow._result import RunResult
from runflow._retry import RetryPolicy
from runflow._runner import Runner, ThreadPolicy
from runflow._tools import ErrorPolicy, Tool, ToolContext, ToolOptions, ToolRegistry, tool
from runflow._tracing import OpenTelemetryInstrumentation
from runflow.backends import Backend, EventStream, RunAnswer, RunReply, ToolOutput
from runflow.backends._openai import OpenAIBackend
from runflow.clock import Clock, SystemClock

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
    "JournaledOutput",
    "JournaledRun",
    "MessageDelta",
    "NoInstrumentation",
    "OpenAIBackend",
    "OpenTelemetryInstrumentation",
    "OutputsSubmitted",
    "ProtocolError",
    "RateLimitedError",
    "RequestRejectedError",
    "RetryPolicy",
    "RunAnswer",
    "RunCancelledError",
    "RunCreated",
    "RunEnded",
    "RunError",
    "RunEvent",
    "RunExpiredError",
    "RunFailedError",
    "RunHandle",
    "RunIncompleteError",
    "RunInfo",
    "RunNeverCreatedError",
    "RunObserver",
    "RunPolled",
    "RunReply",
    "RunRequested",
    "RunResult",
    "RunSink",
    "RunSnapshot",
    "RunStatus",
    "RunflowError",
    "Runner",
    "ServiceError",
    "ServiceUnavailableError",
    "StatusChanged",
    "StepSeen",
    "StreamDroppedError",
    "StreamError",
    "SubmissionEnded",
    "SystemClock",
    "ThreadBusyError",
    "ThreadPolicy",
    "Tool",
    "ToolArgumentsError",
    "ToolCallAbandoned",
    "ToolCallError",
    "ToolCallFinished",
    "ToolCallRecord",
    "ToolCallRequest",
    "ToolCallStarted",
    "ToolContext",
    "ToolDefinitionError",
    "ToolFailure",
    "ToolOptions",
    "ToolOutput",
    "ToolPolicyError",
    "ToolRegistry",
    "TransientError",
    "UnknownToolError",
    "UsageError",
    "Wait",
    "decide",
    "sync_assistant",
    "tool",
]
__version__ = "0.1.0"
