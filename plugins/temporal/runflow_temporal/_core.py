"""Every name runflow-temporal takes from the core, in one place.

All are public (`runflow`) but the metadata key runs are tagged with, taken from its module here
and nowhere else, so a change of the core's layout is a change of this file only.
"""

from __future__ import annotations

from runflow import (
    Abort,
    ConnectionLostError,
    Deadline,
    Dispatch,
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
    dispatch_batch,
)
from runflow._creation import RUN_KEY_METADATA

__all__ = [
    "RUN_KEY_METADATA",
    "Abort",
    "ConnectionLostError",
    "Deadline",
    "Dispatch",
    "Finish",
    "OpenAIBackend",
    "OpenTelemetryInstrumentation",
    "ProtocolError",
    "RateLimitedError",
    "RequestRejectedError",
    "RetryPolicy",
    "RunEnded",
    "RunInfo",
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
