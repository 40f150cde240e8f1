"""Hostile tool calls: property-based tests of the engine against arbitrary tool-call payloads.

The run is served by a scripted `Backend` (the narrow door runflow talks through), so the
payloads are exactly what hypothesis draws: invalid JSON, deep nesting, huge strings, wrong
types, arguments that are not strings at all, unknown tool names, duplicate call ids, thousands
of calls in one batch. The engine must never crash or hang, and must submit, for every call, an
output: the handler's result, or a structured error the model can read.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

import anyio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openai.types.beta.threads import Message, Run
from openai.types.beta.threads.required_action_function_tool_call import (
    Function,
    RequiredActionFunctionToolCall,
)
from openai.types.beta.threads.run import RequiredAction, RequiredActionSubmitToolOutputs

from runflow import Runner, RunResult, RunStatus, ToolRegistry
from runflow.backends import RunReply, ToolOutput

from .support import CallTagging, current_call, report, size

ERROR_TYPES = {"unknown_tool", "invalid_arguments", "handler_error", "timeout"}
NOW = 1_800_000_000


def run_object(status: str, calls: Sequence[tuple[str, str, object]] = ()) -> Run:
    """A Run as the SDK builds it from the wire: constructed, not validated."""
    action = None
    if calls:
        tool_calls = [
            RequiredActionFunctionToolCall.model_construct(
                id=call_id,
                type="function",
                function=Function.model_construct(name=name, arguments=arguments),
            )
            for call_id, name, arguments in calls
        ]
        action = RequiredAction.model_construct(
            type="submit_tool_outputs",
            submit_tool_outputs=RequiredActionSubmitToolOutputs.model_construct(
                tool_calls=tool_calls
            ),
        )
    return Run.model_construct(
        id="run_hostile",
        object="thread.run",
        thread_id="thread_hostile",
        assistant_id="asst_hostile",
        status=status,
        created_at=NOW,
        expires_at=NOW + 600,
        required_action=action,
        metadata={},
        last_error=None,
        incomplete_details=None,
        model="gpt-4o",
        instructions="",
        tools=[],
    )


class ScriptedBackend:
    """Serves one run that asks for `calls`, then completes once outputs are submitted."""

    provider_name = "openai"
    server_address = None

    def __init__(self, calls: Sequence[tuple[str, str, object]]) -> None:
        self.run = run_object("requires_action", calls)
        self.submissions: list[list[ToolOutput]] = []
        self.cancelled = False

    async def create_run(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any], stream: bool
    ) -> RunReply:
        assert not stream, "polling mode only"
        return RunReply(self.run)

    async def submit_tool_outputs(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput], stream: bool
    ) -> RunReply:
        assert not stream, "polling mode only"
        self.submissions.append(list(tool_outputs))
        self.run = run_object("completed")
        return RunReply(self.run)

    async def retrieve_run(self, *, thread_id: str, run_id: str) -> RunReply:
        return RunReply(self.run)

    async def cancel_run(self, *, thread_id: str, run_id: str) -> Run:
        self.cancelled = True
        self.run = run_object("cancelled")
        return self.run

    async def list_runs(self, *, thread_id: str, limit: int = 20) -> list[Run]:
        return [self.run]

    async def list_run_messages(self, *, thread_id: str, run_id: str) -> list[Message]:
        return []

    async def create_thread_and_run(self, **_: Any) -> RunReply:
        raise NotImplementedError


class Executions(Counter[str]):
    def tools(self) -> ToolRegistry:
        registry = ToolRegistry()

        @registry.tool
        async def echo(text: str) -> str:
            """Echo the text."""
            self[current_call()[1].id] += 1
            return text[:100]

        @registry.tool
        def add(a: int, b: int) -> int:
            """Add two integers."""
            self[current_call()[1].id] += 1
            return a + b

        return registry


async def drive(
    calls: Sequence[tuple[str, str, object]],
) -> tuple[RunResult, ScriptedBackend, Executions]:
    backend = ScriptedBackend(calls)
    executions = Executions()
    runner = Runner(backend, executions.tools(), mode="poll", instrumentation=CallTagging())
    with anyio.fail_after(30):
        result = await runner.run(thread_id="thread_hostile", assistant_id="asst_hostile")
    return result, backend, executions


def check_outputs(
    calls: Sequence[tuple[str, str, object]], result: RunResult, backend: ScriptedBackend
) -> Counter[str]:
    """Every call got one output, each a result or a structured error; the error kinds."""
    assert result.status is RunStatus.COMPLETED
    assert not backend.cancelled
    [submitted] = backend.submissions
    assert sorted(o["tool_call_id"] for o in submitted) == sorted(c[0] for c in calls)
    kinds: Counter[str] = Counter()
    for output, (_, name, _) in zip(submitted, calls, strict=True):
        text = output["output"]
        assert isinstance(text, str)
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = None
        if isinstance(decoded, dict) and "error" in decoded:
            error = decoded["error"]
            assert error["type"] in ERROR_TYPES and isinstance(error["message"], str)
            kinds[error["type"]] += 1
        else:
            assert name in ("echo", "add")
            kinds["ok"] += 1
    return kinds


# -- strategies -----------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
deep = st.integers(1, 200_000)
arguments = st.one_of(
    json_values.map(json.dumps),  # any JSON: wrong types, not an object
    st.fixed_dictionaries({"text": json_values}).map(json.dumps),  # echo, any type of text
    st.fixed_dictionaries({"a": json_values, "b": st.integers()}).map(json.dumps),
    st.builds(lambda t: json.dumps({"text": t}), st.text()),  # valid for echo
    st.text(max_size=50),  # mostly not JSON at all
    deep.map(lambda d: "[" * d + "]" * d),  # deep nesting
    deep.map(lambda d: '{"text": ' + "[" * d + "]" * d + "}"),
    deep.map(lambda d: '{"a": ' + '{"a": ' * d + "1" + "}" * (d + 1)),
    st.integers(1, 3_000_000).map(lambda n: json.dumps({"text": "x" * n})),  # huge strings
    json_values,  # not even a string (a service may send an object, a number, null)
)
names = st.sampled_from(["echo", "add", "missing", "", "ECHO"]) | st.text(max_size=70)
call_ids = st.sampled_from(["call_a", "call_b"]) | st.text(min_size=1, max_size=12)
batches = st.lists(st.tuples(call_ids, names, arguments), min_size=1, max_size=20)


@settings(
    max_examples=size(60, 1500),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(batches.filter(lambda calls: len({c[0] for c in calls}) == len(calls)))
def test_any_batch_of_calls_gets_one_output_each_and_the_run_goes_on(
    calls: list[tuple[str, str, object]],
) -> None:
    result, backend, executions = anyio.run(drive, calls)

    check_outputs(calls, result, backend)
    assert all(count == 1 for count in executions.values())


def test_a_call_id_named_twice_runs_its_handler_once() -> None:
    calls = [("call_a", "echo", '{"text": "one"}'), ("call_a", "echo", '{"text": "two"}')]

    result, backend, executions = anyio.run(drive, calls)

    assert result.status is RunStatus.COMPLETED
    assert executions["call_a"] <= 1
    [submitted] = backend.submissions
    assert [o["tool_call_id"] for o in submitted].count("call_a") == 1


def test_thousands_of_calls_in_one_batch() -> None:
    count = size(3000, 20000)
    calls: list[tuple[str, str, object]] = []
    for index in range(count):
        kind = index % 4
        if kind == 0:
            calls.append((f"call_{index}", "echo", json.dumps({"text": str(index)})))
        elif kind == 1:
            calls.append((f"call_{index}", "add", json.dumps({"a": index, "b": 1})))
        elif kind == 2:
            calls.append((f"call_{index}", "nope", "{}"))
        else:
            calls.append((f"call_{index}", "add", '{"a": "not a number"'))
    started = time.perf_counter()
    result, backend, executions = anyio.run(drive, calls)
    took = time.perf_counter() - started

    kinds = check_outputs(calls, result, backend)
    report(
        "Hostile input: one batch of many calls",
        [
            ("calls in the batch", count),
            ("outputs by kind", ", ".join(f"{k}: {v}" for k, v in sorted(kinds.items()))),
            ("handler executions", sum(executions.values())),
            ("wall time (s)", f"{took:.2f}"),
        ],
    )
    assert kinds == {"ok": count // 2, "unknown_tool": count // 4, "invalid_arguments": count // 4}
    assert sum(executions.values()) == count // 2


def test_arguments_nested_too_deeply_are_invalid_arguments() -> None:
    calls: list[tuple[str, str, object]] = [
        ("call_1", "echo", '{"text": ' + "[" * 100_000 + "]" * 100_000 + "}")
    ]

    _, backend, executions = anyio.run(drive, calls)

    [output] = backend.submissions[0]
    assert json.loads(output["output"])["error"]["type"] == "invalid_arguments"
    assert not executions
