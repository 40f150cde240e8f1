"""Exceptions raised by runflow, split by who is at fault.

    RunflowError
    ├── UsageError                   you: misuse of the library
    │   └── ToolDefinitionError      a handler whose signature cannot become a tool schema
    ├── ToolCallError                the model: a tool call runflow cannot execute as asked
    │   ├── UnknownToolError         a tool name the registry does not have
    │   └── ToolArgumentsError       arguments that are not JSON or fail validation
    ├── RunError                     the run did not complete
    │   ├── RunFailedError           status failed (with the run's last_error)
    │   ├── RunExpiredError          status expired
    │   ├── RunCancelledError        status cancelled
    │   └── RunIncompleteError       status incomplete (with incomplete_details)
    ├── ServiceError                 the service did not do what was asked
    │   ├── RequestRejectedError     it refused the request (a 4xx answer)
    │   │   └── ThreadBusyError      the thread already has an active run
    │   └── TransientError           it may work if asked again
    │       ├── RateLimitedError     429, with the Retry-After it asked for
    │       ├── ServiceUnavailableError  a 5xx answer
    │       └── ConnectionLostError  no answer at all (refused, reset, timed out)
    │           └── StreamDroppedError  lost in the middle of an event stream
    ├── RunNeverCreatedError         a journaled run whose creation cannot be confirmed
    ├── ToolPolicyError              a tool's on_error policy stopped the run
    └── ProtocolError                the service said something runflow cannot follow
        └── StreamError              an `error` event, or a stream with no run in it

`ToolCallError`s never escape a run: they become structured error outputs the model can read
and correct. `RunError`s are raised only by `RunResult.raise_for_status()`; `Runner.run`
returns a result for every terminal status. `TransientError`s are retried within a budget
before they reach the caller.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runflow._dispatch import ToolCallRecord
    from runflow._tools import ErrorPolicy

__all__ = [
    "ConnectionLostError",
    "ProtocolError",
    "RateLimitedError",
    "RequestRejectedError",
    "RunCancelledError",
    "RunError",
    "RunExpiredError",
    "RunFailedError",
    "RunIncompleteError",
    "RunNeverCreatedError",
    "RunflowError",
    "ServiceError",
    "ServiceUnavailableError",
    "StreamDroppedError",
    "StreamError",
    "ThreadBusyError",
    "ToolArgumentsError",
    "ToolCallError",
    "ToolDefinitionError",
    "ToolPolicyError",
    "TransientError",
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


class ServiceError(RunflowError):
    """The service did not do what was asked."""


class RequestRejectedError(ServiceError):
    """The service refused a request; `status_code` is the HTTP status it answered with."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ThreadBusyError(RequestRejectedError):
    """A run cannot start: the thread already has an active run (`active_run_id`)."""

    def __init__(self, message: str, *, thread_id: str, active_run_id: str) -> None:
        super().__init__(message, status_code=400)
        self.thread_id = thread_id
        self.active_run_id = active_run_id


class TransientError(ServiceError):
    """A failure that may go away if the request is made again."""


class RateLimitedError(TransientError):
    """429: the service asks to slow down, for `retry_after` seconds if it said."""

    def __init__(self, message: str, *, retry_after: float | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailableError(TransientError):
    """A 5xx answer."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ConnectionLostError(TransientError):
    """No answer: the connection was refused, reset or timed out. The request may or may not
    have been carried out."""


class StreamDroppedError(ConnectionLostError):
    """The connection carrying a run's events was lost before the stream's end."""


class RunNeverCreatedError(RunflowError):
    """`Runner.resume()` found a run whose creation it cannot confirm nor safely repeat."""


class ProtocolError(RunflowError):
    """The service sent something that breaks the run protocol (an illegal status change,
    a required action runflow does not know, a run object it cannot read)."""


class StreamError(ProtocolError):
    """A run event stream carried an `error` event, or ended before any run appeared."""


class ToolPolicyError(RunflowError):
    """A handler failed and its tool's `on_error` policy stops the run.

    Raised by `runflow.dispatch_batch` once the whole batch has finished. `policy` is `fail` or
    `cancel` (`fail` wins when calls of the batch disagree), `record` the failed call that
    decided it, `records` every call of the batch, in order, outputs included.
    """

    def __init__(
        self, record: ToolCallRecord, policy: ErrorPolicy, records: Sequence[ToolCallRecord]
    ) -> None:
        failure = record.error
        why = "" if failure is None else f" ({failure.kind}: {failure.message})"
        super().__init__(f"tool {record.name!r} failed{why}; its on_error policy is {policy!r}")
        self.record = record
        self.policy = policy
        self.records = list(records)
