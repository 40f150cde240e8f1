"""Every name runflow-temporal takes from the core, in one place.

Most are public (`runflow`); the few the core does not export yet are taken from their modules
here and nowhere else, so a change of the core's layout is a change of this file only.
"""

from __future__ import annotations

from runflow import (
    ConnectionLostError,
    Deadline,
    OpenAIBackend,
    OpenTelemetryInstrumentation,
    ProtocolError,
    RateLimitedError,
    RequestRejectedError,
    RetryPolicy,
    RunflowError,
    RunInfo,
    RunResult,
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
)
from runflow._driver import RUN_KEY_METADATA
from runflow.dispatch import dispatch_batch
from runflow.lifecycle import Abort, Dispatch, Finish, RunSnapshot, Wait, decide

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
