"""The run + thread -> chat request mapping, case by case (pure: no server, no model)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runflow_server.brains import Fail, Incomplete, ToolResult
from runflow_server.model.fake import refusal
from runflow_server.model.mapping import (
    ChatOptions,
    builtin_arguments,
    chat_request,
    chat_tool_choice,
    search_result_blocks,
    tool_name_clash,
)
from runflow_server.objects import message_object

from .support import NOW, WEATHER, make_turn, user_message

JSON = dict[str, Any]


def request(turn: Any, **options: Any) -> JSON:
    result = chat_request(turn, "upstream-model", **options)
    assert isinstance(result, dict), result
    assert refusal(result) is None, refusal(result)  # what the real service would take
    return result


def test_a_plain_thread_becomes_system_and_alternating_messages() -> None:
    turn = make_turn("Hi", "Hello!", "Weather?", assistant={"instructions": "Be brief."})
    sent = request(turn)
    assert sent["model"] == "upstream-model"
    assert sent["stream"] is True
    assert sent["stream_options"] == {"include_usage": True}
    assert sent["messages"] == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello!"},
        {"role": "user", "content": "Weather?"},
    ]
    assert "tools" not in sent and "tool_choice" not in sent and "parallel_tool_calls" not in sent


@pytest.mark.parametrize(
    ("assistant", "run", "system"),
    [
        pytest.param({"instructions": "A"}, {}, "A", id="the assistant's"),
        pytest.param({"instructions": "A"}, {"instructions": "R"}, "R", id="the run's replace"),
        pytest.param(
            {"instructions": "A"}, {"additional_instructions": "More."}, "A\n\nMore.", id="added"
        ),
        pytest.param({}, {"additional_instructions": "Only."}, "Only.", id="added alone"),
        pytest.param({}, {}, None, id="none"),
    ],
)
def test_instructions_make_the_system_message(
    assistant: JSON, run: JSON, system: str | None
) -> None:
    messages = request(make_turn("Hi", assistant=assistant, run=run))["messages"]
    if system is None:
        assert messages == [{"role": "user", "content": "Hi"}]
    else:
        assert messages[0] == {"role": "system", "content": system}


def test_image_parts_keep_their_detail_and_files_become_urls() -> None:
    message = user_message(
        [
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
            {"type": "image_file", "image_file": {"file_id": "file-1", "detail": "high"}},
            {"type": "image_file", "image_file": {"file_id": "file-unknown"}},
        ]
    )
    images = {"file-1": "data:image/png;base64,AAAA"}
    sent = request(make_turn(messages=[message]), images=images.get)
    assert sent["messages"][0]["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "https://x/cat.png", "detail": "low"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "high"}},
        {"type": "text", "text": "[image file file-unknown not shown to this model]"},
    ]


def test_a_model_without_vision_gets_a_note_instead_of_images() -> None:
    message = user_message(
        [
            {"type": "image_url", "image_url": {"url": "https://x/cat.png"}},
            {"type": "text", "text": "Describe it"},
        ]
    )
    sent = request(make_turn(messages=[message]), options=ChatOptions(vision=False))
    assert sent["messages"][0] == {
        "role": "user",
        "content": "[image not shown to this model]\nDescribe it",
    }


def function_round(*calls: tuple[str, str, str, str]) -> list[ToolResult]:
    return [
        ToolResult(call_id, name, arguments, output) for call_id, name, arguments, output in calls
    ]


def test_this_runs_tool_rounds_become_tool_calls_and_tool_messages() -> None:
    rounds = [
        function_round(
            ("call_a", "get_weather", '{"city":"Paris"}', "rainy"),
            ("call_b", "get_weather", '{"city":"Oslo"}', "sunny"),
        ),
        function_round(("call_c", "get_time", "", "noon")),
    ]
    turn = make_turn("Weather in Paris and Oslo?", assistant={"tools": [WEATHER]}, rounds=rounds)
    messages = request(turn)["messages"]
    assert messages[1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                },
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "rainy"},
        {"role": "tool", "tool_call_id": "call_b", "content": "sunny"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_c",
                    "type": "function",
                    "function": {"name": "get_time", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_c", "content": "noon"},
    ]


def test_text_this_run_wrote_before_its_calls_goes_with_them() -> None:
    turn = make_turn("Weather?", assistant={"tools": [WEATHER]})
    own = message_object(
        "thread_1",
        created_at=NOW,
        role="assistant",
        content="Let me check.",
        run_id=turn.run["id"],
    ).to_wire()
    turn.messages = [*turn.messages, own]
    turn.rounds = [function_round(("call_a", "get_weather", '{"city":"Paris"}', "rainy"))]
    messages = request(turn)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert messages[1]["content"] == "Let me check."


def test_built_in_calls_read_as_the_functions_the_model_was_offered() -> None:
    code = ToolResult(
        "call_py",
        "code_interpreter",
        '{"input": "print(6*7)"}',
        "42\n",
        details={
            "id": "call_py",
            "type": "code_interpreter",
            "code_interpreter": {
                "input": "print(6*7)",
                "outputs": [{"type": "logs", "logs": "42\n"}],
            },
        },
    )
    search = ToolResult(
        "call_fs",
        "file_search",
        '{"queries": ["refund policy"]}',
        "2 results",
        details={
            "id": "call_fs",
            "type": "file_search",
            "file_search": {
                "results": [
                    {
                        "file_id": "file-1",
                        "file_name": "policy.md",
                        "score": 0.9,
                        "content": [{"type": "text", "text": "Refunds within 30 days."}],
                    },
                    {
                        "file_id": "file-2",
                        "file_name": "faq.md",
                        "score": 0.5,
                        "content": [{"type": "text", "text": "Ask support."}],
                    },
                ]
            },
        },
    )
    tools = [{"type": "code_interpreter"}, {"type": "file_search"}]
    again = ToolResult(
        "call_fs2",
        "file_search",
        '{"queries": ["support"]}',
        "1 result",
        details={
            "file_search": {
                "results": [
                    {
                        "file_id": "file-2",
                        "file_name": "faq.md",
                        "content": [{"type": "text", "text": "Mail us."}],
                    }
                ]
            }
        },
    )
    turn = make_turn("Go", assistant={"tools": tools}, rounds=[[code], [search], [again]])
    messages = request(turn)["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "python",
        "arguments": json.dumps({"code": "print(6*7)"}),
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_py", "content": "42\n"}
    assert messages[3]["tool_calls"][0]["function"] == {
        "name": "file_search",
        "arguments": json.dumps({"queries": ["refund policy"]}),
    }
    assert messages[4]["content"] == (
        "【0:0†policy.md】\nRefunds within 30 days.\n\n【0:1†faq.md】\nAsk support."
    )
    # the engine numbers results across the run's searches: the second search goes on at 2
    assert messages[6]["content"] == "【1:2†faq.md】\nMail us."


def test_search_output_that_carries_markers_is_passed_on_and_no_content_falls_back() -> None:
    marked = ToolResult("c", "file_search", "{}", "【3:0†a.md】 text")
    assert search_result_blocks(0, 0, marked) == "【3:0†a.md】 text"
    bare = ToolResult("c", "file_search", "{}", "nothing found", details={"file_search": {}})
    assert search_result_blocks(0, 0, bare) == "nothing found"
    assert search_result_blocks(0, 0, ToolResult("c", "file_search", "{}", "")) == "No results."


def test_tools_function_as_they_are_and_built_ins_as_functions() -> None:
    tools = [WEATHER, {"type": "code_interpreter"}, {"type": "file_search"}]
    sent = request(make_turn("Hi", assistant={"tools": tools}))
    assert sent["tools"][0] == WEATHER  # strict kept
    python, search = sent["tools"][1]["function"], sent["tools"][2]["function"]
    assert python["name"] == "python"
    assert python["parameters"]["properties"] == {
        "code": {"type": "string", "description": "The Python code to run."}
    }
    assert search["name"] == "file_search"
    assert search["parameters"]["properties"]["queries"]["type"] == "array"
    assert sent["tool_choice"] == "auto"
    assert sent["parallel_tool_calls"] is True


FORCE_WEATHER = {"type": "function", "function": {"name": "get_weather"}}


@pytest.mark.parametrize(
    ("choice", "first", "later"),
    [
        pytest.param("none", "none", "none", id="none"),
        pytest.param("auto", "auto", "auto", id="auto"),
        pytest.param("required", "required", "auto", id="required"),
        pytest.param(FORCE_WEATHER, FORCE_WEATHER, "auto", id="a function"),
        pytest.param(
            {"type": "code_interpreter"},
            {"type": "function", "function": {"name": "python"}},
            "auto",
            id="code interpreter",
        ),
        pytest.param(
            {"type": "file_search"},
            {"type": "function", "function": {"name": "file_search"}},
            "auto",
            id="file search",
        ),
    ],
)
def test_tool_choice_forces_only_the_first_model_turn(choice: Any, first: Any, later: Any) -> None:
    tools = [WEATHER, {"type": "code_interpreter"}, {"type": "file_search"}]
    turn = make_turn("Hi", assistant={"tools": tools}, run={"tool_choice": choice})
    assert request(turn)["tool_choice"] == first
    turn.rounds = [function_round(("call_a", "get_weather", "{}", "rainy"))]
    assert request(turn)["tool_choice"] == later


@pytest.mark.parametrize(
    ("choice", "names"),
    [
        pytest.param(FORCE_WEATHER, ["other"], id="a function the run lacks"),
        pytest.param({"type": "code_interpreter"}, ["get_weather"], id="no code interpreter"),
        pytest.param("required", [], id="required without tools"),
    ],
)
def test_a_tool_choice_naming_no_tool_fails_the_run(choice: Any, names: list[str]) -> None:
    result = chat_tool_choice(choice, names, first_turn=True)
    assert isinstance(result, Fail) and result.code == "invalid_prompt"


def test_sampling_budget_and_parallel_calls_are_passed_on() -> None:
    run = {
        "temperature": 0.2,
        "top_p": 0.9,
        "max_completion_tokens": 300,
        "parallel_tool_calls": False,
    }
    sent = request(make_turn("Hi", assistant={"tools": [WEATHER]}, run=run))
    assert (sent["temperature"], sent["top_p"]) == (0.2, 0.9)
    assert sent["max_completion_tokens"] == 300
    assert sent["parallel_tool_calls"] is False
    assert "reasoning_effort" not in sent
    assert request(make_turn("Hi", run={"reasoning_effort": "low"}))["reasoning_effort"] == "low"
    older = ChatOptions(max_tokens_param="max_tokens", stream_usage=False)
    sent = request(make_turn("Hi", run=run), options=older)
    assert sent["max_tokens"] == 300 and "max_completion_tokens" not in sent
    assert "stream_options" not in sent


SCHEMA = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}


@pytest.mark.parametrize(
    ("response_format", "chat"),
    [
        pytest.param("auto", None, id="auto"),
        pytest.param({"type": "text"}, None, id="text"),
        pytest.param({"type": "json_object"}, {"type": "json_object"}, id="json object"),
        pytest.param(
            {"type": "json_schema", "json_schema": {"name": "n", "schema": SCHEMA, "strict": True}},
            {"type": "json_schema", "json_schema": {"name": "n", "strict": True, "schema": SCHEMA}},
            id="json schema",
        ),
        pytest.param(
            {"type": "json_schema", "json_schema": {"name": "n"}},
            {"type": "json_schema", "json_schema": {"name": "n", "schema": {"type": "object"}}},
            id="json schema without one",
        ),
    ],
)
def test_response_format_in_the_chat_form(response_format: Any, chat: Any) -> None:
    sent = request(make_turn("Hi", run={"response_format": response_format}))
    assert sent.get("response_format") == chat


def texts(sent: JSON) -> list[str]:
    return [m["content"] for m in sent["messages"] if m["role"] != "system"]


def test_last_messages_keeps_the_last_n() -> None:
    turn = make_turn(
        "one",
        "two",
        "three",
        "four",
        run={"truncation_strategy": {"type": "last_messages", "last_messages": 2}},
    )
    assert texts(request(turn)) == ["three", "four"]


def test_auto_drops_the_oldest_until_the_prompt_fits() -> None:
    long = ["x" * 400 + str(i) for i in range(8)]
    turn = make_turn(*long, run={"max_prompt_tokens": 300})
    kept = texts(request(turn))
    assert kept == long[-len(kept) :] and 1 <= len(kept) < 8
    assert request(make_turn(*long, run={"max_prompt_tokens": 5000}))["messages"] == [
        {"role": "user" if i % 2 == 0 else "assistant", "content": text}
        for i, text in enumerate(long)
    ]


def test_a_prompt_that_cannot_fit_ends_the_run_incomplete() -> None:
    huge = make_turn("y" * 4000, run={"max_prompt_tokens": 256})
    assert chat_request(huge, "m") == Incomplete("max_prompt_tokens")
    strict = make_turn(
        "a" * 800,
        "b" * 800,
        run={
            "max_prompt_tokens": 300,
            "truncation_strategy": {"type": "last_messages", "last_messages": 2},
        },
    )
    assert chat_request(strict, "m") == Incomplete("max_prompt_tokens")


def test_drop_oldest_shrinks_but_always_keeps_the_last_message() -> None:
    turn = make_turn("one", "two", "three")
    assert texts(request(turn, drop_oldest=1)) == ["two", "three"]
    assert texts(request(turn, drop_oldest=99)) == ["three"]


@pytest.mark.parametrize(
    ("tools", "clash"),
    [
        pytest.param(
            [{"type": "code_interpreter"}, {"type": "function", "function": {"name": "python"}}],
            "python",
            id="python",
        ),
        pytest.param(
            [{"type": "file_search"}, {"type": "function", "function": {"name": "file_search"}}],
            "file_search",
            id="file_search",
        ),
        pytest.param(
            [{"type": "function", "function": {"name": "python"}}], None, id="python alone"
        ),
        pytest.param([{"type": "code_interpreter"}, WEATHER], None, id="no clash"),
    ],
)
def test_a_function_named_like_a_built_in_it_sits_beside_is_refused(
    tools: list[JSON], clash: str | None
) -> None:
    message = tool_name_clash(tools)
    if clash is None:
        assert message is None
    else:
        assert message is not None and repr(clash) in message and "reserved" in message


@pytest.mark.parametrize(
    ("kind", "arguments", "expected"),
    [
        pytest.param("code_interpreter", '{"code": "print(1)"}', ("print(1)", ()), id="code json"),
        pytest.param("code_interpreter", "print(1)", ("print(1)", ()), id="raw code"),
        pytest.param("code_interpreter", "```python\nprint(1)\n```", ("print(1)", ()), id="fenced"),
        pytest.param("code_interpreter", '"print(1)"', ("print(1)", ()), id="a json string"),
        pytest.param("code_interpreter", '{"input": "x=1"}', ("x=1", ()), id="input key"),
        pytest.param("file_search", '{"queries": ["a", "b"]}', ("", ("a", "b")), id="queries"),
        pytest.param("file_search", '{"query": "a"}', ("", ("a",)), id="one query"),
        pytest.param("file_search", '["a", ""]', ("", ("a",)), id="a list"),
        pytest.param("file_search", "refund policy", ("", ("refund policy",)), id="raw text"),
        pytest.param("file_search", "", ("", ()), id="nothing"),
    ],
)
def test_built_in_arguments_are_taken_as_meant(
    kind: str, arguments: str, expected: tuple[str, tuple[str, ...]]
) -> None:
    assert builtin_arguments(kind, arguments) == expected


def test_attached_files_are_named_to_the_model() -> None:
    message = user_message("Plot this")
    message["attachments"] = [
        {"file_id": "file-csv", "tools": [{"type": "code_interpreter"}]},
        {"file_id": "file-doc", "tools": [{"type": "file_search"}, {"type": "code_interpreter"}]},
    ]
    [sent] = request(make_turn(messages=[message]))["messages"]
    assert sent["content"] == (
        "Plot this\n[attached files: file-csv for code_interpreter, "
        "file-doc for code_interpreter and file_search]"
    )
