"""Reading Run objects: what the protocol promises, checked before it is relied on. Pure."""

from __future__ import annotations

import json
from collections.abc import Sequence

from openai.types.beta.threads import Run

from runflow._errors import ProtocolError
from runflow._lifecycle import RunSnapshot, RunStatus, ToolCallRequest
from runflow._result import status_of

__all__ = ["snapshot", "still_waiting_for"]


def still_waiting_for(run: Run, call_ids: Sequence[str]) -> bool:
    """Whether the run still requires the outputs of `call_ids` (so they did not land)."""
    if status_of(run) is not RunStatus.REQUIRES_ACTION:
        return False
    pending = {call.id for call in snapshot(run, RunStatus.REQUIRES_ACTION).tool_calls}
    return bool(pending & set(call_ids))


def snapshot(run: Run, status: RunStatus) -> RunSnapshot:
    """The run as `decide()` sees it. The SDK builds its models without validation, so every
    field the protocol promises is checked here before it is read."""
    action = run.required_action
    if status is not RunStatus.REQUIRES_ACTION or action is None:
        return RunSnapshot(status)
    submit = getattr(action, "submit_tool_outputs", None)
    if action.type != "submit_tool_outputs" or submit is None:
        return RunSnapshot(status, required_action_type=str(action.type))
    try:
        calls = [
            ToolCallRequest(
                id=str(call.id),
                name=str(call.function.name),
                arguments=_arguments_text(call.function.arguments),
            )
            for call in submit.tool_calls or ()
        ]
    except AttributeError as exc:
        raise ProtocolError(f"run {run.id} has a malformed required_action: {exc}") from exc
    return RunSnapshot(status, required_action_type=action.type, tool_calls=calls)


def _arguments_text(arguments: object) -> str:
    """The arguments as the model's JSON text (a service may send null or an object)."""
    if isinstance(arguments, str):
        return arguments
    return "" if arguments is None else json.dumps(arguments)
