"""New records (`records.py`) from request bodies, and the wire objects that are not records.

Field sets and their order follow the recordings in `shared/fixtures/openai-recordings`. Where the
recordings and the spec disagree, the builders below say which one they follow and why.
"""

from __future__ import annotations

import math
import secrets
import string
from collections.abc import Sequence
from typing import Any, Literal

from .bodies import (
    AssistantBody,
    MessageBody,
    RunBody,
    RunOptions,
    ThreadBody,
    ToolResources,
    response_format_object,
)
from .records import Assistant, File, Message, Record, Run, Step, Thread

__all__ = [
    "assistant_object",
    "assistant_update",
    "deleted_object",
    "file_object",
    "function_tools",
    "message_object",
    "new_id",
    "page_object",
    "run_object",
    "step_object",
    "thread_object",
    "token_count",
    "tool_call_object",
    "tool_resources_object",
    "usage_object",
    "user_message_object",
]

JSON = dict[str, Any]

_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str) -> str:
    """`asst_`, `thread_`, `msg_`, `run_`, `step_`, `call_` + 24 random alphanumerics."""
    return prefix + "".join(secrets.choice(_ALPHABET) for _ in range(24))


def token_count(text: str) -> int:
    """A plausible, deterministic token count: about four characters a token."""
    return math.ceil(len(text) / 4)


def usage_object(prompt_tokens: int, completion_tokens: int) -> JSON:
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
        "prompt_token_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def _tool_object(tool: Any) -> JSON:
    """A tool definition as the API echoes it: parameters and strict always present."""
    data: JSON = tool.model_dump(exclude_none=True)
    if data["type"] == "file_search":  # as recorded: the ranking options, defaults filled in
        settings = data.get("file_search", {})
        ranking = {"ranker": "default_2024_08_21", "score_threshold": 0.0}
        ranking |= settings.get("ranking_options", {})
        settings["ranking_options"] = {**ranking, "hybrid_search": ranking.get("hybrid_search")}
        return {"type": "file_search", "file_search": settings}
    if data["type"] != "function":
        return data
    function = data["function"]
    echoed: JSON = {"name": function["name"]}
    if "description" in function:
        echoed["description"] = function["description"]
    echoed["parameters"] = function.get("parameters", {"type": "object", "properties": {}})
    echoed["strict"] = function.get("strict", False)
    return {"type": "function", "function": echoed}


def tool_resources_object(resources: ToolResources | None) -> JSON | None:
    """Tool resources as echoed: a `vector_stores` helper becomes a (made-up) vector store id,
    as the hosted API answered with the store it created."""
    if resources is None:
        return None
    data: JSON = resources.model_dump(exclude_none=True)
    search = data.get("file_search")
    if search is not None and "vector_stores" in search:
        made = [new_id("vs_") for _ in search.pop("vector_stores")]
        search["vector_store_ids"] = search.get("vector_store_ids", []) + made
    return data


def function_tools(tools: Sequence[JSON]) -> list[JSON]:
    """The `function` parts of the function tools of a run or an assistant."""
    return [tool["function"] for tool in tools if tool.get("type") == "function"]


def assistant_update(assistant: Assistant, body: AssistantBody) -> Assistant:
    """The assistant with the fields the update sets (an absent field keeps its value)."""
    fields = _assistant_fields(body)
    return assistant.model_copy(update={name: fields[name] for name in body.model_fields_set})


def assistant_object(body: AssistantBody, *, created_at: int) -> Assistant:
    return Assistant(id=new_id("asst_"), created_at=created_at, **_assistant_fields(body))


def _assistant_fields(body: AssistantBody) -> JSON:
    tools = [_tool_object(tool) for tool in body.tools or []]
    tool_resources = tool_resources_object(body.tool_resources)
    if tool_resources is None:
        has_code = any(tool["type"] == "code_interpreter" for tool in tools)
        tool_resources = {"code_interpreter": {"file_ids": []}} if has_code else {}
    return {
        "name": body.name,
        "description": body.description,
        "model": body.model,
        "instructions": body.instructions,
        "tools": tools,
        "top_p": 1.0 if body.top_p is None else body.top_p,
        "temperature": 1.0 if body.temperature is None else body.temperature,
        "reasoning_effort": body.reasoning_effort,
        "tool_resources": tool_resources,
        "metadata": body.metadata or {},
        "response_format": response_format_object(body.response_format) or "auto",
    }


def thread_object(body: ThreadBody, *, created_at: int, project: str | None = None) -> Thread:
    return Thread(
        id=new_id("thread_"),
        created_at=created_at,
        metadata=body.metadata or {},
        tool_resources=tool_resources_object(body.tool_resources) or {},
        project=project,
    )


def _content_object(content: Any) -> list[JSON]:
    if isinstance(content, str):
        return [{"type": "text", "text": {"value": content, "annotations": []}}]
    parts: list[JSON] = []
    for part in content:
        if part.type == "text":
            parts.append({"type": "text", "text": {"value": part.text, "annotations": []}})
        else:
            parts.append(part.model_dump())
    return parts


def message_object(
    thread_id: str,
    *,
    created_at: int,
    role: Literal["user", "assistant"],
    content: str | Sequence[Any],
    assistant_id: str | None = None,
    run_id: str | None = None,
    attachments: Sequence[JSON] = (),
    metadata: dict[str, str] | None = None,
    status: Literal["in_progress", "completed"] = "completed",
) -> Message:
    """A message. The recordings' REST bodies leave out `status`, `completed_at`, `incomplete_at`
    and `incomplete_details`; the spec requires them and the SDK's `Message` needs `status`, and
    the recorded stream events carry them, so every message here has them."""
    completed = status == "completed"
    return Message(
        id=new_id("msg_"),
        created_at=created_at,
        assistant_id=assistant_id,
        thread_id=thread_id,
        run_id=run_id,
        status=status,
        completed_at=created_at if completed else None,
        role=role,
        content=_content_object(content),
        attachments=list(attachments),
        metadata=metadata or {},
    )


def user_message_object(thread_id: str, body: MessageBody, *, created_at: int) -> Message:
    return message_object(
        thread_id,
        created_at=created_at,
        role=body.role,
        content=body.content,
        attachments=[attachment.model_dump() for attachment in body.attachments or []],
        metadata=body.metadata,
    )


def file_object(
    filename: str, size: int, purpose: str, *, created_at: int, expires_at: int | None = None
) -> File:
    """An uploaded file, as recorded: processed at once, never expiring unless asked."""
    return File(
        id=new_id("file-"),
        purpose=purpose,
        filename=filename,
        bytes=size,
        created_at=created_at,
        expires_at=expires_at,
    )


def deleted_object(record: Record) -> JSON:
    """The answer to a DELETE: `assistant.deleted`, `thread.deleted`... (files: `file`)."""
    kind = record.object
    return {
        "id": record.id,
        "object": kind if kind == "file" else f"{kind}.deleted",
        "deleted": True,
    }


def _instructions(body: RunOptions, assistant: Assistant) -> str:
    """The run's instructions: its own or the assistant's, plus `additional_instructions`.

    "" when neither has any: the hosted API sent `null` there (see the recordings), but the spec
    and the SDK's `Run` type it as a string, and the SDK's strict validation refuses `null`.
    """
    base = body.instructions if body.instructions is not None else assistant.instructions
    extra = body.additional_instructions if isinstance(body, RunBody) else None
    if extra:
        return f"{base}\n\n{extra}" if base else extra
    return base or ""


def run_object(
    body: RunOptions, assistant: Assistant, *, thread_id: str, created_at: int, expires_at: int
) -> Run:
    tools = [_tool_object(tool) for tool in body.tools] if body.tools else assistant.tools
    tool_choice = body.tool_choice
    truncation = body.truncation_strategy
    return Run(
        id=new_id("run_"),
        created_at=created_at,
        assistant_id=assistant.id,
        thread_id=thread_id,
        expires_at=expires_at,
        model=body.model or assistant.model,
        instructions=_instructions(body, assistant),
        tools=tools,
        metadata=body.metadata or {},
        temperature=assistant.temperature if body.temperature is None else body.temperature,
        top_p=assistant.top_p if body.top_p is None else body.top_p,
        reasoning_effort=body.reasoning_effort or assistant.reasoning_effort,
        max_completion_tokens=body.max_completion_tokens,
        max_prompt_tokens=body.max_prompt_tokens,
        truncation_strategy=(
            truncation.model_dump() if truncation else {"type": "auto", "last_messages": None}
        ),
        response_format=response_format_object(body.response_format) or assistant.response_format,
        tool_choice=(
            tool_choice.model_dump(exclude_none=True)
            if tool_choice is not None and not isinstance(tool_choice, str)
            else tool_choice or "auto"
        ),
        parallel_tool_calls=body.parallel_tool_calls is not False,
    )


def step_object(run: Run, *, created_at: int, details: JSON) -> Step:
    """A run step, in progress. The recordings carry `expires_at` (the run's); the spec and the
    SDK's `RunStep` carry `expired_at`; both are here. The spec also requires `metadata`, which
    the recorded steps leave out: it is here, empty."""
    return Step(
        id=new_id("step_"),
        created_at=created_at,
        run_id=run.id,
        assistant_id=run.assistant_id,
        thread_id=run.thread_id,
        type=details["type"],
        expires_at=run.expires_at,
        step_details=details,
    )


def tool_call_object(call_id: str, name: str, arguments: str) -> JSON:
    """One entry of `required_action.submit_tool_outputs.tool_calls`."""
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def page_object(data: Sequence[JSON], *, has_more: bool) -> JSON:
    return {
        "object": "list",
        "data": list(data),
        "first_id": data[0]["id"] if data else None,
        "last_id": data[-1]["id"] if data else None,
        "has_more": has_more,
    }
