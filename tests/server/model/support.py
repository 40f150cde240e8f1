"""Turns as the engine hands them to a brain, built with the server's own wire builders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from runflow_server.bodies import AssistantBody, MessageBody, RunBody
from runflow_server.brains import ToolResult, Turn
from runflow_server.objects import assistant_object, message_object, run_object

NOW = 1_761_861_530

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


def make_turn(
    *texts: str,
    assistant: dict[str, Any] | None = None,
    run: dict[str, Any] | None = None,
    rounds: Sequence[Sequence[ToolResult]] = (),
    messages: Sequence[dict[str, Any]] | None = None,
) -> Turn:
    """A turn of a fresh run on a thread holding `texts` as alternating user/assistant messages
    (the first a user's), or `messages` as given. `assistant` and `run` are request bodies."""
    made = assistant_object(
        AssistantBody.model_validate({"model": "gpt-4o-mini", **(assistant or {})}),
        created_at=NOW,
    )
    body = RunBody.model_validate({"assistant_id": made.id, **(run or {})})
    run_wire = run_object(
        body, made, thread_id="thread_1", created_at=NOW, expires_at=NOW + 600
    ).to_wire()
    if messages is None:
        messages = [
            message_object(
                "thread_1",
                created_at=NOW,
                role="user" if index % 2 == 0 else "assistant",
                content=text,
            ).to_wire()
            for index, text in enumerate(texts)
        ]
    return Turn(run=run_wire, assistant=made.to_wire(), messages=list(messages), rounds=rounds)


def user_message(content: Any) -> dict[str, Any]:
    """A user message with content parts given as the API takes them."""
    body = MessageBody.model_validate({"role": "user", "content": content})
    return message_object("thread_1", created_at=NOW, role="user", content=body.content).to_wire()


RECORDINGS = Path("/work/shared/fixtures/openai-recordings/chat-tools")
