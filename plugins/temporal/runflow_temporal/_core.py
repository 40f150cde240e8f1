"""Every name runflow-temporal takes from the core, in one place.

All are public (`runflow`) but two, taken from the core's private modules here and nowhere else:
`RUN_KEY_METADATA` (the metadata key runs are tagged with) and `dispatch_batch` (a batch of tool
calls run under a deadline, what the tool activity does). Private modules are free to change;
the plugin lives in the same repository and is released with the core, so a change of the
core's layout is a change of this file only.
"""

from __future__ import annotations

from runflow import (
    Abort,
    ConnectionLostError,
    Deadline,
    Dispatch,
    EventStream,
    Finish,
    OpenAIBackend,
    OpenTelemetryInstrumentation,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    RetryPolicy,
    RunEnded,
    RunflowError,
    RunInfo,
    RunReply,
    RunResult,
    RunSnapshot,
    RunStatus,
    StreamDroppedError,
    ThreadBusyError,
    ThreadPolicy,
    ToolCallRecord,
    ToolCallRequest,
    ToolFailure,
    ToolPolicyError,
    ToolRegistry,
    TransientError,
    Wait,
    decide,
)
from runflow._creation import RUN_KEY_METADATA
from runflow._dispatch import dispatch_batch

__all__ = [
    "RUN_KEY_METADATA",
    "Abort",
    "ConnectionLostError",
    "Deadline",
    "Dispatch",
    "EventStream",
    "Finish",
    "OpenAIBackend",
    "OpenTelemetryInstrumentation",
    "ProtocolError",
    "RateLimitedError",
    "RequestRejectedError",
    "RetryPolicy",
    "RunEnded",
    "RunInfo",
    "RunReply",
    "RunResult",
    "RunSnapshot",
    "RunStatus",
    "RunflowError",
    "StreamDroppedError",
    "ThreadBusyError",
    "ThreadPolicy",
    "ToolCallRecord",
    "ToolCallRequest",
    "ToolFailure",
    "ToolPolicyError",
    "ToolRegistry",
    "TransientError",
    "Wait",
    "decide",
    "dispatch_batch",
]
