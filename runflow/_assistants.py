"""Keep an assistant's function tools equal to a `ToolRegistry`.

    assistant = await sync_assistant(client, registry, name="weather-bot", model="gpt-4o")

finds the assistant (by id, or by name), creates it if there is none, and updates it only when
something differs: its function tools against `registry.definitions()` (compared as normalized
JSON, order aside), and the model, name or instructions when given. The registry is the source
of truth for function tools: function tools the registry does not have are removed. Other
tools (`code_interpreter`, `file_search`) are kept unless `keep_other_tools=False`.

Calling it on every start is cheap: when nothing differs it makes no write request.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, cast

from openai import AsyncOpenAI, omit
from openai.types.beta import Assistant, AssistantToolParam

from runflow._errors import UsageError
from runflow._tools import ToolRegistry
from runflow.backends._openai import _translated

__all__ = ["sync_assistant"]

_LIST_PAGE_SIZE = 100


async def sync_assistant(
    client: AsyncOpenAI,
    registry: ToolRegistry,
    *,
    assistant_id: str | None = None,
    name: str | None = None,
    model: str | None = None,
    instructions: str | None = None,
    keep_other_tools: bool = True,
) -> Assistant:
    """Create or update an assistant so that its function tools match `registry`.

    Args:
        client: The client of the service holding the assistant.
        registry: The tools the assistant must offer.
        assistant_id: The assistant to update (it must exist). Without it, the assistant
            is looked up by `name` (the most recently created one, if several share it).
        name: The assistant's name: how to find it, and the name it is given.
        model: The model to create it with; when given, an assistant on another model is
            updated to it.
        instructions: When given, the assistant's instructions.
        keep_other_tools: Keep the assistant's tools that are not functions.

    Returns:
        The assistant as the service has it afterwards.

    Raises:
        UsageError: Neither `assistant_id` nor `name` is given, or the assistant must be
            created and no `model` is given.
        RequestRejectedError: There is no assistant `assistant_id` (and other refusals).
    """
    if assistant_id is None and name is None:
        raise UsageError("sync_assistant needs an assistant_id or a name to find the assistant")
    assistants = client.beta.assistants
    with _translated():
        if assistant_id is not None:
            current: Assistant | None = await assistants.retrieve(assistant_id)
        else:
            current = await _find_by_name(client, str(name))
        if current is None:
            if model is None:
                raise UsageError(f"no assistant named {name!r}: a model is needed to create it")
            return await assistants.create(
                model=model,
                name=name,
                instructions=instructions if instructions is not None else omit,
                tools=registry.definitions(),
            )
        tools = _wanted_tools(current, registry, keep_other_tools=keep_other_tools)
        changes = _changes(current, tools, model=model, name=name, instructions=instructions)
        if not changes:
            return current
        return await assistants.update(current.id, **changes)


async def _find_by_name(client: AsyncOpenAI, name: str) -> Assistant | None:
    """The newest assistant called `name`, reading the list page by page."""
    async for assistant in client.beta.assistants.list(limit=_LIST_PAGE_SIZE, order="desc"):
        if assistant.name == name:
            return assistant
    return None


def _wanted_tools(
    current: Assistant, registry: ToolRegistry, *, keep_other_tools: bool
) -> list[AssistantToolParam]:
    wanted: list[AssistantToolParam] = list(registry.definitions())
    if keep_other_tools:
        for existing in current.tools:
            if existing.type != "function":
                wanted.append(cast(AssistantToolParam, existing.model_dump(exclude_none=True)))
    return wanted


def _changes(
    current: Assistant,
    tools: list[AssistantToolParam],
    *,
    model: str | None,
    name: str | None,
    instructions: str | None,
) -> dict[str, Any]:
    """The fields to update (none when the assistant already is as wanted)."""
    existing = [tool.model_dump(exclude_none=True) for tool in current.tools]
    changes: dict[str, Any] = {}
    if _normalized(existing) != _normalized(cast(list[dict[str, Any]], tools)):
        changes["tools"] = tools
    wanted = {"model": model, "name": name, "instructions": instructions}
    for field, value in wanted.items():
        if value is not None and getattr(current, field) != value:
            changes[field] = value
    return changes


def _normalized(tools: Iterable[dict[str, Any]]) -> list[str]:
    """Tools as sorted canonical JSON, with what the service fills in when it is left out
    (no description, empty parameters, `strict: false`) spelled the same as the registry's."""
    canonical: Sequence[dict[str, Any]] = [_canonical(tool) for tool in tools]
    return sorted(json.dumps(tool, sort_keys=True) for tool in canonical)


def _canonical(tool: dict[str, Any]) -> dict[str, Any]:
    if tool.get("type") != "function":
        return {"type": tool.get("type")}  # options such as file_search's are the service's
    function = tool["function"]
    return {
        "type": "function",
        "name": function["name"],
        "description": function.get("description") or "",
        "parameters": function.get("parameters") or {"type": "object", "properties": {}},
        "strict": bool(function.get("strict")),
    }
