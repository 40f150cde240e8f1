"""Chat stream -> brain events, with the quirks real servers send (pure: chunks in, events out)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from runflow_server.brains import (
    BrainEvent,
    BuiltinCall,
    CallBuiltins,
    CallFunctions,
    Fail,
    FunctionCallDelta,
    Incomplete,
    TextDelta,
    ToolCall,
    Usage,
)
from runflow_server.model.fake import chunk, recorded_chunks
from runflow_server.model.stream import Answer, Assembler, ending, function_arguments

from .support import RECORDINGS

JSON = dict[str, Any]


def feed(chunks: list[JSON]) -> tuple[list[BrainEvent], Answer]:
    assembler = Assembler()
    events: list[BrainEvent] = []
    for item in chunks:
        events += assembler.feed(item)
    return events, assembler.answer()


def call(index: int | None, call_id: str | None, name: str | None, arguments: str) -> JSON:
    part: JSON = {"function": {"arguments": arguments}}
    if index is not None:
        part["index"] = index
    if call_id is not None:
        part["id"] = call_id
    if name is not None:
        part["function"]["name"] = name
    return chunk({"tool_calls": [part]})


def calls_of(answer: Answer) -> list[tuple[str | None, str | None, str]]:
    return [(c.call_id, c.name, c.arguments) for c in answer.calls]


def test_text_is_published_piece_by_piece_and_usage_counted_once() -> None:
    events, answer = feed(
        [
            chunk({"role": "assistant", "content": ""}),
            chunk({"content": "Hel"}),
            chunk({"content": "lo"}),
            chunk({}, "stop"),
            chunk(usage={"prompt_tokens": 7, "completion_tokens": 2}) | {"choices": []},
        ]
    )
    assert events == [TextDelta("Hel"), TextDelta("lo")]
    assert (answer.text, answer.finish_reason, answer.usage) == ("Hello", "stop", Usage(7, 2))
    assert ending(answer) == []  # a reply: the text already sent is the message


def test_usage_in_every_chunk_counts_the_last() -> None:
    chunks = [
        chunk({"content": "a"}, usage={"prompt_tokens": 5, "completion_tokens": 1}),
        chunk({}, "stop", usage={"prompt_tokens": 5, "completion_tokens": 2}),
    ]
    assert feed(chunks)[1].usage == Usage(5, 2)


def test_calls_stream_their_arguments_and_keep_their_ids() -> None:
    events, answer = feed(
        [
            call(0, "call_1", "get_weather", ""),
            call(0, None, None, '{"city":'),
            call(0, None, None, '"Paris"}'),
            call(1, "call_2", "get_time", "{}"),
            chunk({}, "tool_calls"),
        ]
    )
    assert events == [
        FunctionCallDelta(0, "call_1", "get_weather", ""),
        FunctionCallDelta(0, None, None, '{"city":'),
        FunctionCallDelta(0, None, None, '"Paris"}'),
        FunctionCallDelta(1, "call_2", "get_time", "{}"),
    ]
    assert ending(answer) == [
        CallFunctions(
            (
                ToolCall("get_weather", '{"city":"Paris"}', "call_1"),
                ToolCall("get_time", "{}", "call_2"),
            )
        )
    ]


def test_deltas_without_index_follow_their_ids() -> None:
    _, answer = feed(
        [
            call(None, "call_1", "a", '{"x":'),
            call(None, None, None, "1}"),
            call(None, "call_2", "b", "{}"),
            chunk({}, "tool_calls"),
        ]
    )
    assert calls_of(answer) == [("call_1", "a", '{"x":1}'), ("call_2", "b", "{}")]


def test_deltas_without_index_or_ids_split_on_a_new_name_after_whole_arguments() -> None:
    _, answer = feed(
        [
            call(None, None, "a", '{"x": 1}'),
            call(None, None, "b", '{"y"'),
            call(None, None, None, ": 2}"),
            chunk({}, "tool_calls"),
        ]
    )
    assert calls_of(answer) == [(None, "a", '{"x": 1}'), (None, "b", '{"y": 2}')]


def test_two_calls_under_one_index_are_two_calls() -> None:
    events, answer = feed(
        [
            call(0, "call_1", "a", '{"x": 1}'),
            call(0, "call_2", "b", '{"y": 2}'),
            chunk({}, "tool_calls"),
        ]
    )
    assert calls_of(answer) == [("call_1", "a", '{"x": 1}'), ("call_2", "b", '{"y": 2}')]
    assert [e.index for e in events if isinstance(e, FunctionCallDelta)] == [0, 1]


def test_an_id_repeated_on_every_delta_stays_one_call() -> None:
    _, answer = feed(
        [
            call(0, "call_1", "a", '{"x":'),
            call(0, "call_1", "a", " 1}"),
            chunk({}, "tool_calls"),
        ]
    )
    assert calls_of(answer) == [("call_1", "a", '{"x": 1}')]


def test_finish_reason_tool_calls_with_no_calls_is_the_text_reply() -> None:
    _, answer = feed([chunk({"content": "Sure."}), chunk({}, "tool_calls")])
    assert answer.text == "Sure." and ending(answer) == []


def test_calls_under_finish_reason_stop_are_still_calls() -> None:
    # recorded: a forced tool_choice answered with calls and finish_reason "stop"
    _, answer = feed([call(0, "call_1", "a", "{}"), chunk({}, "stop")])
    assert ending(answer) == [CallFunctions((ToolCall("a", "{}", "call_1"),))]


def test_length_ends_incomplete_and_content_filter_fails() -> None:
    _, cut = feed([chunk({"content": "Once upon"}), chunk({}, "length")])
    assert ending(cut) == [Incomplete("max_completion_tokens")]
    _, filtered = feed([chunk({}, "content_filter")])
    [failure] = ending(filtered)
    assert isinstance(failure, Fail) and failure.code == "server_error"


def test_a_stream_that_stops_without_a_reason_is_cut() -> None:
    _, answer = feed([call(0, "call_1", "a", '{"x": ')])
    assert answer.cut and not answer.calls[0].complete()
    _, whole = feed([chunk({"content": "Hi"}), chunk({}, "stop")])
    assert not whole.cut


def test_built_in_calls_are_not_previewed_and_go_to_the_server() -> None:
    events, answer = feed(
        [
            chunk({"content": "Computing."}),
            call(0, "call_py", "python", '{"code": "print(1)"}'),
            call(1, "call_fs", "file_search", '{"queries": ["x"]}'),
            chunk({}, "tool_calls"),
        ]
    )
    assert events == [TextDelta("Computing.")]
    assert ending(answer) == [
        CallBuiltins(
            (
                BuiltinCall("code_interpreter", input="print(1)", call_id="call_py"),
                BuiltinCall("file_search", queries=("x",), call_id="call_fs"),
            )
        )
    ]


def test_a_turn_mixing_functions_and_built_ins_makes_the_functions() -> None:
    events, answer = feed(
        [
            call(0, "call_py", "python", '{"code": "print(1)"}'),
            call(1, "call_f", "get_weather", "{}"),
            chunk({}, "tool_calls"),
        ]
    )
    assert events == [FunctionCallDelta(1, "call_f", "get_weather", "{}")]  # already streamed
    assert ending(answer) == [CallFunctions((ToolCall("get_weather", "{}", "call_f"),))]


def test_a_search_without_queries_searches_the_users_words() -> None:
    _, answer = feed([call(0, "c", "file_search", "{}"), chunk({}, "tool_calls")])
    assert ending(answer, fallback_query="refunds?") == [
        CallBuiltins((BuiltinCall("file_search", queries=("refunds?",), call_id="c"),))
    ]


@pytest.mark.parametrize(
    ("arguments", "passed"),
    [
        pytest.param("", "{}", id="empty"),
        pytest.param("  ", "{}", id="blank"),
        pytest.param('{"a": 1}', '{"a": 1}', id="json"),
        pytest.param('{"a": 1}}', '{"a": 1}', id="a brace too many"),
        pytest.param('{"a": 1} and more', '{"a": 1}', id="junk after"),
        pytest.param('```json\n{"a": 1}\n```', '{"a": 1}', id="fenced"),
        pytest.param("{'a': 1}", "{'a': 1}", id="not json: as it came"),
        pytest.param('{"a": ', '{"a": ', id="cut: as it came"),
    ],
)
def test_arguments_that_are_not_json(arguments: str, passed: str) -> None:
    assert function_arguments(arguments) == passed


def test_a_call_without_a_name_is_dropped() -> None:
    _, answer = feed([call(0, "c", None, "{}"), chunk({"content": "ok"}), chunk({}, "tool_calls")])
    assert ending(answer) == []


def test_other_choices_are_ignored() -> None:
    other = chunk({"content": "second choice"}) | {
        "choices": [{"index": 1, "delta": {"content": "B"}, "finish_reason": None}]
    }
    events, _ = feed([other, chunk({"content": "A"}), chunk({}, "stop")])
    assert events == [TextDelta("A")]


@pytest.mark.parametrize(
    "name",
    [
        "ParallelToolCalls.json",
        "ConsecutiveToolCalls.json",
        "ConstraintsWork.json",
        "NoParameterToolWorks.json",
        "ParametersWork.json",
        "StructuredOutputs(WithSchema,Strict).json",
    ],
)
def test_recorded_answers_streamed_come_back_whole(name: str) -> None:
    for entry in json.loads((RECORDINGS / name).read_text())["Entries"]:
        message = entry["ResponseBody"]["choices"][0]["message"]
        _, answer = feed(recorded_chunks(entry["ResponseBody"]))
        assert answer.text == (message.get("content") or "")
        expected = [
            (c["id"], c["function"]["name"], c["function"]["arguments"])
            for c in message.get("tool_calls") or []
        ]
        assert calls_of(answer) == expected


def test_without_parallel_calls_only_the_first_is_made() -> None:
    _, answer = feed([call(0, "c1", "a", "{}"), call(1, "c2", "b", "{}"), chunk({}, "tool_calls")])
    assert ending(answer, parallel=False) == [CallFunctions((ToolCall("a", "{}", "c1"),))]
