"""Exceptions raised by runflow, split by who is at fault.

    RunflowError
    ├── UsageError                 you: misuse of the library
    │   └── ToolDefinitionError    a handler whose signature cannot become a tool schema
    ├── ToolCallError              the model: a tool call runflow cannot execute as asked
    │   ├── UnknownToolError       a tool name the registry does not have
    │   └── ToolArgumentsError     arguments that are not JSON or fail validation
    ├── RunError                   the service: the run did not complete
    │   ├── RunFailedError         status failed (with the run's last_error)
    │   ├── RunExpiredError        status expired
    │   ├── RunCancelledError      status cancelled
    │   └── RunIncompleteError     status incomplete (with incomplete_details)
    ├── RequestRejectedError       the service refused a request (a 4xx answer)
    └── ProtocolError              the service said something runflow cannot follow
        └── StreamError            the event stream broke or carried an error event
            └── StreamDroppedError the connection was lost in the middle of a stream

`ToolCallError`s never escape a run: they become structured error outputs the model can read
and correct. `RunError`s are raised only by `RunResult.raise_for_status()`; `Runner.run`
returns a result for every terminal status.
"""

from __future__ import annotations

__all__ = [
    "ProtocolError",
    "RequestRejectedError",
    "RunCancelledError",
    "RunError",
    "RunExpiredError",
    "RunFailedError",
    "RunIncompleteError",
    "RunflowError",
    "StreamDroppedError",
    "StreamError",
    "ToolArgumentsError",
    "ToolCallError",
    "ToolDefinitionError",
    "UnknownToolError",
    "UsageError",
]


class RunflowError(Exception):
    """Base of every exception runflow raises."""


class UsageError(RunflowError):
    """The library was used in a way it does not support."""


class ToolDefinitionError(UsageError):
    """A function cannot be registered as a tool (the message says why)."""


class ToolCallError(RunflowError):
    """A tool call from the model cannot be executed as asked.

    `kind` is the stable, machine-readable name sent to the model in the error output.
    """

    kind = "tool_call_error"


class UnknownToolError(ToolCallError):
    """The model asked for a tool the registry does not have."""

    kind = "unknown_tool"


class ToolArgumentsError(ToolCallError):
    """The model's arguments are not valid JSON or do not fit the tool's schema."""

    kind = "invalid_arguments"


class RunError(RunflowError):
    """A run ended in a status other than completed."""

    def __init__(self, message: str, *, run_id: str, status: str) -> None:
        super().__init__(message)
        self.run_id = run_id
        self.status = status


class RunFailedError(RunError):
    """The run failed; the message carries the run's `last_error`."""


class RunExpiredError(RunError):
    """The run expired before it could finish."""


class RunCancelledError(RunError):
    """The run was cancelled."""


class RunIncompleteError(RunError):
    """The run ended incomplete; the message carries `incomplete_details`."""


class RequestRejectedError(RunflowError):
    """The service refused a request; `status_code` is the HTTP status it answered with."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ProtocolError(RunflowError):
    """The service sent something that breaks the run protocol (an illegal status change,
    a required action runflow does not know, a run object it cannot read)."""


class StreamError(ProtocolError):
    """A run event stream ended without a decision or carried an `error` event."""


class StreamDroppedError(StreamError):
    """The connection carrying a run's events was lost before the stream's end."""
