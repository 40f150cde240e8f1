"""A run and its thread as a Chat Completions request: pure functions, no I/O.

`chat_request(turn, model, options)` answers the keyword arguments of
`client.chat.completions.create(...)`, or a `Fail` / `Incomplete` when the run cannot be asked
for (a `tool_choice` naming no tool, a prompt over `max_prompt_tokens`). What goes in:

- one system message: the run's `instructions` (its own or the assistant's, with
  `additional_instructions` appended, as the run object already holds them);
- the thread's messages in order, cut by `truncation_strategy` (`last_messages: N` keeps the
  last N; `auto` drops the oldest while the estimated prompt exceeds `max_prompt_tokens`; either
  may also drop `drop_oldest` more, which the brain asks for after a context-length refusal).
  Text parts as text; `image_url` and `image_file` parts as image parts (`detail` kept) when
  the provider takes images, else a short text note;
- this run's tool rounds: an assistant message with `tool_calls` and one `tool` message per call.
  Built-in calls read as the functions the model was offered (`python`, `file_search`);
- the tools: function tools as they are (`strict` kept), `code_interpreter` as the function
  `python(code)`, `file_search` as `file_search(queries)`;
- `tool_choice` mapped; a forcing choice (`required`, a named tool) only on the run's first model
  turn, `auto` once tool results are back (forcing every turn would loop);
- `temperature`, `top_p`, `reasoning_effort` (when set), `response_format`,
  `parallel_tool_calls`, the completion budget, and
  `stream_options.include_usage` (the usage is summed into the run).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..brains import Fail, Incomplete, ToolResult, Turn

__all__ = [
    "BUILTIN_FUNCTIONS",
    "ChatOptions",
    "ImageSource",
    "builtin_arguments",
    "chat_request",
    "chat_tool_choice",
    "chat_tools",
    "estimate_tokens",
    "search_result_blocks",
    "tool_name_clash",
]

JSON = dict[str, Any]
ImageSource = Callable[[str], str | None]
"""file id -> a URL the model can fetch (usually a `data:` URL), or None when unknown."""

BUILTIN_FUNCTIONS: Mapping[str, str] = {"code_interpreter": "python", "file_search": "file_search"}
"""Built-in tool type -> the name of the function that stands for it in the chat request."""

_PYTHON = {
    "name": "python",
    "description": (
        "Run Python code in a stateful Jupyter notebook and read back what it prints and "
        "displays. Files the user attached are in /mnt/data; write files there to hand them "
        "back (link them as sandbox:/mnt/data/NAME). There is no internet access."
    ),
    "parameters": {
        "type": "object",
        "properties": {"code": {"type": "string", "description": "The Python code to run."}},
        "required": ["code"],
        "additionalProperties": False,
    },
}
_FILE_SEARCH = {
    "name": "file_search",
    "description": (
        "Search the files the user gave you. Each result comes back headed by a citation "
        "marker like 【3:0†notes.txt】; copy the marker after any statement that uses it."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "queries": {
                "type": "array",
                "items": {"type": "string"},
                "description": "One or more search queries.",
            }
        },
        "required": ["queries"],
        "additionalProperties": False,
    },
}
_BUILTIN_DEFINITIONS = {"code_interpreter": _PYTHON, "file_search": _FILE_SEARCH}


@dataclass(frozen=True)
class ChatOptions:
    """What a provider accepts, beyond the common core.

    Attributes:
        vision: image parts are sent as images (else as a text note naming them).
        max_tokens_param: the name of the completion budget (`max_tokens` for older servers).
        stream_usage: ask for `stream_options.include_usage` (some servers refuse it).
    """

    vision: bool = True
    max_tokens_param: Literal["max_completion_tokens", "max_tokens"] = "max_completion_tokens"
    stream_usage: bool = True


def tool_name_clash(tools: Sequence[Mapping[str, Any]]) -> str | None:
    """The error text when a function tool takes the name a built-in tool is offered under."""
    types = {tool.get("type") for tool in tools}
    for tool in tools:
        if tool.get("type") != "function":
            continue
        name = tool.get("function", {}).get("name")
        for builtin, function in BUILTIN_FUNCTIONS.items():
            if name == function and builtin in types:
                return (
                    f"The function name {name!r} is reserved: the tool {builtin!r} is offered "
                    f"to the model as a function of that name. Rename the function."
                )
    return None


def chat_tools(tools: Sequence[Mapping[str, Any]]) -> list[JSON]:
    """The run's tools as chat functions: function tools as they are, built-ins as functions."""
    chat: list[JSON] = []
    for tool in tools:
        kind = tool.get("type")
        if kind == "function":
            chat.append({"type": "function", "function": dict(tool["function"])})
        elif kind in _BUILTIN_DEFINITIONS:
            chat.append({"type": "function", "function": _BUILTIN_DEFINITIONS[kind]})
    return chat


def chat_tool_choice(choice: Any, names: Sequence[str], *, first_turn: bool) -> Any:
    """The run's `tool_choice` for one model turn, or a `Fail` when it names no offered tool."""
    if choice in (None, "auto", "none"):
        return choice or "auto"
    forced_name: str | None = None
    if isinstance(choice, Mapping):
        kind = choice.get("type")
        if kind == "function":
            forced_name = (choice.get("function") or {}).get("name")
        else:
            forced_name = BUILTIN_FUNCTIONS.get(str(kind))
        if forced_name is None or forced_name not in names:
            return Fail("invalid_prompt", f"tool_choice names {choice!r}, which the run lacks")
    elif choice == "required" and not names:
        return Fail("invalid_prompt", "tool_choice is 'required' but the run has no tools")
    if not first_turn:
        return "auto"
    if forced_name is not None:
        return {"type": "function", "function": {"name": forced_name}}
    return "required"


def estimate_tokens(messages: Sequence[Mapping[str, Any]], tools: Sequence[Any] = ()) -> int:
    """A prompt's size without a tokenizer: about four characters a token, plus framing."""
    text = json.dumps(list(messages), ensure_ascii=False) + json.dumps(list(tools))
    return len(text) // 4 + 3 * len(messages) + 3


def chat_request(
    turn: Turn,
    model: str,
    options: ChatOptions = ChatOptions(),
    *,
    images: ImageSource | None = None,
    drop_oldest: int = 0,
) -> JSON | Fail | Incomplete:
    """The keyword arguments of `chat.completions.create` for this turn of the run."""
    run = turn.run
    tools = chat_tools(run.get("tools") or [])
    names = [tool["function"]["name"] for tool in tools]
    choice = chat_tool_choice(run.get("tool_choice"), names, first_turn=not turn.rounds)
    if isinstance(choice, Fail):
        return choice
    head = _system(run, turn.assistant)
    earlier, own = _split_messages(turn)
    tail = _round_messages(turn.rounds, [_message(m, None, False)["content"] for m in own])
    history = [_message(m, images, options.vision) for m in earlier]
    fitted = _truncate(run, head, history, tail, tools, drop_oldest)
    if fitted is None:
        return Incomplete("max_prompt_tokens")
    request: JSON = {"model": model, "messages": head + fitted + tail, "stream": True}
    if options.stream_usage:
        request["stream_options"] = {"include_usage": True}
    if tools:
        request |= {"tools": tools, "tool_choice": choice}
        request["parallel_tool_calls"] = run.get("parallel_tool_calls") is not False
    for name in ("temperature", "top_p", "reasoning_effort"):
        if run.get(name) is not None:
            request[name] = run[name]
    if run.get("max_completion_tokens") is not None:
        request[options.max_tokens_param] = run["max_completion_tokens"]
    response_format = _response_format(run.get("response_format"))
    if response_format is not None:
        request["response_format"] = response_format
    return request


def _system(run: Mapping[str, Any], assistant: Mapping[str, Any]) -> list[JSON]:
    text = run.get("instructions") or assistant.get("instructions") or ""
    return [{"role": "system", "content": text}] if text else []


def _split_messages(turn: Turn) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]]]:
    """The thread's messages, oldest first, apart from this run's own answers, and those: they
    are replayed with the tool rounds they came before (see `_round_messages`)."""
    run_id = turn.run.get("id")
    earlier: list[Mapping[str, Any]] = []
    own: list[Mapping[str, Any]] = []
    for message in turn.messages:
        mine = message.get("role") == "assistant" and message.get("run_id") == run_id
        (own if mine else earlier).append(message)
    return earlier, own


def _truncate(
    run: Mapping[str, Any],
    head: list[JSON],
    history: list[JSON],
    tail: list[JSON],
    tools: list[JSON],
    drop_oldest: int,
) -> list[JSON] | None:
    """`history` cut by the run's truncation strategy; None when it cannot fit at all."""
    strategy = run.get("truncation_strategy") or {"type": "auto"}
    keep = strategy.get("last_messages") if strategy.get("type") == "last_messages" else None
    if keep is not None:
        history = history[max(0, len(history) - keep) :]
    if drop_oldest:
        history = history[min(drop_oldest, len(history) - 1) :]
    limit = run.get("max_prompt_tokens")
    if limit is None:
        return history
    while estimate_tokens(head + history + tail, tools) > limit:
        if strategy.get("type") != "auto" or len(history) <= 1:
            return None
        history = history[1:]
    return history


def _message(message: Mapping[str, Any], images: ImageSource | None, vision: bool) -> JSON:
    role = "assistant" if message.get("role") == "assistant" else "user"
    parts: list[JSON] = []
    for part in message.get("content") or []:
        kind = part.get("type")
        if kind == "text":
            parts.append({"type": "text", "text": part["text"]["value"]})
        elif kind in ("image_url", "image_file"):
            parts.append(_image_part(part, images, vision and role == "user"))
    if message.get("attachments"):
        parts.append({"type": "text", "text": _attachment_note(message["attachments"])})
    if all(part["type"] == "text" for part in parts):
        return {"role": role, "content": "\n".join(part["text"] for part in parts)}
    return {"role": role, "content": parts}


def _attachment_note(attachments: Sequence[Mapping[str, Any]]) -> str:
    """The files attached to a message, said in words: the model learns their ids, and where
    the tools see them (code interpreter: in /mnt/data; file search: searchable)."""
    described = []
    for attachment in attachments:
        tools = sorted({tool.get("type", "") for tool in attachment.get("tools") or []})
        uses = f" for {' and '.join(tools)}" if tools else ""
        described.append(f"{attachment.get('file_id')}{uses}")
    return f"[attached files: {', '.join(described)}]"


def _image_part(part: Mapping[str, Any], images: ImageSource | None, vision: bool) -> JSON:
    """An image part as the chat API takes it; a text note when it cannot be sent."""
    if part["type"] == "image_url":
        url, detail, label = part["image_url"]["url"], part["image_url"].get("detail"), "image"
    else:
        file_id = part["image_file"]["file_id"]
        url = images(file_id) if images is not None else None
        detail, label = part["image_file"].get("detail"), f"image file {file_id}"
    if not vision or url is None:
        return {"type": "text", "text": f"[{label} not shown to this model]"}
    image: JSON = {"url": url}
    if detail:
        image["detail"] = detail
    return {"type": "image_url", "image_url": image}


def _round_messages(rounds: Sequence[Sequence[ToolResult]], texts: Sequence[str]) -> list[JSON]:
    """This run's tool rounds as an assistant `tool_calls` message and `tool` messages each.

    `texts` are this run's messages so far; the k-th goes with the k-th round as the text the
    model wrote before its calls (the records keep no finer order), any left over after them.
    """
    messages: list[JSON] = []
    searches, cited = 0, 0  # the run's file searches so far, and their results
    for number, round_ in enumerate(rounds):
        calls: list[JSON] = []
        answers: list[JSON] = []
        for result in round_:
            name = BUILTIN_FUNCTIONS.get(result.name, result.name)
            arguments = _round_arguments(result)
            output = result.output
            if result.name == "file_search":
                output = search_result_blocks(searches, cited, result)
                searches += 1
                cited += len(_search_results(result))
            function = {"name": name, "arguments": arguments}
            calls.append({"id": result.call_id, "type": "function", "function": function})
            answers.append({"role": "tool", "tool_call_id": result.call_id, "content": output})
        if calls:
            text = texts[number] if number < len(texts) else None
            messages.append({"role": "assistant", "content": text or None, "tool_calls": calls})
            messages += answers
    messages += [{"role": "assistant", "content": text} for text in texts[len(rounds) :]]
    return messages


def _round_arguments(result: ToolResult) -> str:
    """A past call's arguments as the model wrote them (built-ins: their chat function's)."""
    if result.name == "code_interpreter":
        details = result.details or {}
        code = (details.get("code_interpreter") or {}).get("input")
        if not isinstance(code, str):
            code = builtin_arguments("code_interpreter", result.arguments)[0]
        return json.dumps({"code": code}, ensure_ascii=False)
    if result.name == "file_search":
        queries = builtin_arguments("file_search", result.arguments)[1]
        return json.dumps({"queries": list(queries)}, ensure_ascii=False)
    return result.arguments or "{}"


def builtin_arguments(kind: str, arguments: str) -> tuple[str, tuple[str, ...]]:
    """(code, queries) from what a model wrote for `python` / `file_search`, JSON or not.

    Models often send raw code instead of `{"code": ...}`, or `{"query": ...}` instead of
    `{"queries": [...]}`; both are taken as meant.
    """
    text = _strip_fences(arguments)
    try:
        value: Any = json.loads(text) if text else {}
    except ValueError:
        value = text
    if kind == "code_interpreter":
        if isinstance(value, Mapping):
            code = value.get("code", value.get("input"))
            return (code if isinstance(code, str) else text), ()
        return (value if isinstance(value, str) else text), ()
    if isinstance(value, Mapping):
        value = value.get("queries", value.get("query", []))
    if isinstance(value, str):
        value = [value]
    queries = tuple(str(q) for q in value if isinstance(q, str | int | float) and str(q).strip())
    return "", queries


def _strip_fences(text: str) -> str:
    """Text without a surrounding markdown code fence (```python ... ```)."""
    stripped = text.strip()
    if stripped.startswith("```") and stripped.endswith("```") and len(stripped) >= 6:
        body = stripped[3:-3]
        first, _, rest = body.partition("\n")
        return (rest if first.strip().isidentifier() or not first.strip() else body).strip()
    return stripped


def _search_results(result: ToolResult) -> list[Mapping[str, Any]]:
    details = (result.details or {}).get("file_search") or {}
    return [hit for hit in details.get("results") or [] if isinstance(hit, Mapping)]


def search_result_blocks(message_index: int, first: int, result: ToolResult) -> str:
    """What the model reads back from a file search: one text block per result, headed by its
    citation marker `【{message_index}:{result_index}†{filename}】`.

    `message_index` counts the run's file searches, `result_index` their results across the
    run from `first` on, in the order the searches returned them: the numbering the engine
    reads markers back with (`annotations.py`), so a marker the model copies becomes the
    `file_citation` of that result. When the search's own output already carries markers, it
    is passed on as it is; without result contents in the step, the output text is used.
    """
    if "【" in result.output:
        return result.output
    blocks = []
    for offset, hit in enumerate(_search_results(result)):
        content = hit.get("content") or []
        text = "\n".join(part.get("text", "") for part in content if isinstance(part, Mapping))
        if not text:
            continue
        name = hit.get("file_name") or hit.get("file_id") or "source"
        blocks.append(f"【{message_index}:{first + offset}†{name}】\n{text}")
    if not blocks:
        return result.output or "No results."
    return "\n\n".join(blocks)


def _response_format(value: Any) -> JSON | None:
    """The run's `response_format` in the chat form (`auto` and `text` send nothing)."""
    if not isinstance(value, Mapping) or value.get("type") in (None, "text"):
        return None
    if value["type"] != "json_schema":
        return {"type": value["type"]}
    schema = value.get("json_schema") or {}
    chat: JSON = {key: schema[key] for key in ("name", "description", "strict") if key in schema}
    chat["schema"] = schema.get("schema") or {"type": "object"}
    return {"type": "json_schema", "json_schema": chat}
