"""What runflow's spans say: attribute sets after the OpenTelemetry GenAI semantic conventions,
with OpenInference's span kinds (Arize Phoenix classifies spans by them) and runflow's own
`runflow.*` attributes.

Functions whose names end in `content` build message text, tool arguments and outputs: the
caller records them only when content capture is on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from openai.types.beta.threads import Run
from openai.types.beta.threads.runs import RunStep
from opentelemetry.util.types import AttributeValue

from runflow._instrumentation import RunInfo
from runflow._lifecycle import ToolCallRequest

if TYPE_CHECKING:
    from runflow._result import RunResult

__all__ = [
    "Attributes",
    "agent_name",
    "created_run_attributes",
    "ended_run_attributes",
    "input_content",
    "output_content",
    "request_model",
    "run_attributes",
    "step_attributes",
    "tool_attributes",
]

Attributes = dict[str, AttributeValue]

_REQUEST_PARAMETERS = {
    "model": "gen_ai.request.model",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "max_completion_tokens": "gen_ai.request.max_tokens",
}


def agent_name(info: RunInfo) -> str | None:
    """The assistant's name if the Runner knows it (a run object does not carry it)."""
    name = info.assistant_name
    return name if isinstance(name, str) and name else None


def run_attributes(info: RunInfo, capture: bool) -> Attributes:
    attributes: Attributes = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.provider.name": info.provider_name,
        "gen_ai.agent.id": info.assistant_id,
        "openinference.span.kind": "AGENT",
        "runflow.run.mode": info.mode,
    }
    name = agent_name(info)
    if name is not None:
        attributes["gen_ai.agent.name"] = name
    if info.thread_id is not None:
        attributes["gen_ai.conversation.id"] = info.thread_id
    if info.server_address:
        attributes["server.address"] = info.server_address
    for option, name in _REQUEST_PARAMETERS.items():
        value = info.options.get(option)
        if isinstance(value, str | int | float):
            attributes[name] = value
    if capture:
        attributes |= input_content(info.options)
    return attributes


def created_run_attributes(run: Run, info: RunInfo) -> Attributes:
    """What the first sight of the run tells: its id, thread and model."""
    return {
        "runflow.run.id": run.id,
        "gen_ai.response.id": run.id,
        "gen_ai.conversation.id": run.thread_id,
        "gen_ai.request.model": request_model(info, run),
    }


def request_model(info: RunInfo, run: Run) -> str:
    """The model asked for at creation, else the assistant's (the one the run reports)."""
    return str(info.options.get("model") or run.model)


def ended_run_attributes(run: Run) -> Attributes:
    attributes: Attributes = {"runflow.run.status": run.status, "gen_ai.response.model": run.model}
    if run.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = run.usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = run.usage.completion_tokens
    if run.last_error is not None:
        attributes["runflow.run.error_code"] = run.last_error.code
    if run.incomplete_details is not None and run.incomplete_details.reason:
        attributes["runflow.run.incomplete_reason"] = run.incomplete_details.reason
    return attributes


def tool_attributes(call: ToolCallRequest, run: Run, capture: bool) -> Attributes:
    attributes: Attributes = {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": call.name,
        "gen_ai.tool.call.id": call.id,
        "gen_ai.tool.type": "function",
        "gen_ai.conversation.id": run.thread_id,
        "gen_ai.agent.id": run.assistant_id,
        "runflow.run.id": run.id,
        "openinference.span.kind": "TOOL",
        "tool.name": call.name,
    }
    if capture:
        attributes |= {"gen_ai.tool.call.arguments": call.arguments, "input.value": call.arguments}
    return attributes


def step_attributes(step: RunStep) -> Attributes:
    attributes: Attributes = {
        "runflow.step.id": step.id,
        "runflow.step.type": step.type,
        "runflow.step.status": step.status,
        "runflow.run.id": step.run_id,
        "gen_ai.conversation.id": step.thread_id,
        "openinference.span.kind": "LLM",  # each step is one turn of the model
    }
    if step.usage is not None:
        attributes["gen_ai.usage.input_tokens"] = step.usage.prompt_tokens
        attributes["gen_ai.usage.output_tokens"] = step.usage.completion_tokens
    return attributes


def input_content(options: Mapping[str, Any]) -> Attributes:
    """Content: the run's instructions and the messages it adds to the thread."""
    attributes: Attributes = {}
    instructions = [
        {"type": "text", "content": str(options[key])}
        for key in ("instructions", "additional_instructions")
        if options.get(key)
    ]
    if instructions:
        attributes["gen_ai.system_instructions"] = json.dumps(instructions)
    messages = [
        {"role": str(message.get("role")), "parts": _parts(message.get("content"))}
        for message in options.get("additional_messages") or ()
        if isinstance(message, Mapping)
    ]
    if messages:
        attributes["gen_ai.input.messages"] = json.dumps(messages, default=str)
        attributes["input.value"] = json.dumps(messages[-1]["parts"], default=str)
    return attributes


def _parts(content: object) -> list[Any]:
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    return list(content) if isinstance(content, list) else []


def output_content(result: RunResult) -> Attributes:
    """Content: the messages the run wrote."""
    messages = [
        {
            "role": "assistant",
            "parts": [
                {"type": "text", "content": part.text.value}
                for part in message.content
                if part.type == "text"
            ],
        }
        for message in result.messages
    ]
    return {"gen_ai.output.messages": json.dumps(messages), "output.value": result.output_text}
