"""Scenario files: loading, validation errors that name the problem, selection per assistant."""

from __future__ import annotations

from pathlib import Path

import openai
import pytest

from runflow.testing import FakeClock
from runflow_server import Scenario, ScenarioError, load_scenario, load_scenarios

from .conftest import Server
from .support import read_stream, stream_run

TWO = """
default: greet
scenarios:
  greet:
    steps:
      - message: "Hello {{literally}}: {last_user_message}"
  lookup:
    steps:
      - tool_calls: [{name: find, arguments: '{"q": "x"}'}]
      - message: "found {output.find}"
"""


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_file_with_several_scenarios(tmp_path: Path) -> None:
    loaded = load_scenarios(write(tmp_path, TWO))

    assert sorted(loaded.scenarios) == ["greet", "lookup"]
    assert loaded.default_scenario is not None and loaded.default_scenario.name == "greet"
    assert load_scenario(write(tmp_path, TWO), "lookup").steps[0].tool_calls[0].arguments == (  # type: ignore[index]
        '{"q": "x"}'
    )


def test_string_arguments_are_sent_verbatim_even_when_broken() -> None:
    steps = [{"tool_calls": [{"name": "a", "arguments": '{"a": 1, "b": '}, {"name": "b"}]}]
    scenario = Scenario.model_validate({"name": "x", "steps": steps})
    calls = scenario.steps[0].tool_calls or []
    assert [call.arguments for call in calls] == ['{"a": 1, "b": ', "{}"]


def test_a_json_file_with_one_scenario(tmp_path: Path) -> None:
    path = write(tmp_path, '{"name": "j", "steps": [{"delay": 1}, {"message": "hi"}]}', "s.json")
    assert load_scenario(path) == Scenario.model_validate(
        {"name": "j", "steps": [{"delay": 1}, {"message": "hi"}]}
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        pytest.param("name: x\nsteps: []", "steps: List should have at least 1 item", id="empty"),
        pytest.param(
            "name: x\nsteps: [{message: a, delay: 1}]",
            "steps[0]: a step has exactly one of",
            id="two-kinds",
        ),
        pytest.param("name: x\nsteps: [{}]", "this one has none", id="no-kind"),
        pytest.param(
            "name: x\nsteps: [{message: 'hi {name}'}]",
            "step 1: unknown placeholder {name}",
            id="unknown-placeholder",
        ),
        pytest.param(
            "name: x\nsteps: [{message: '{outputs}'}]",
            "step 1: {outputs} has no earlier tool_calls step",
            id="outputs-too-early",
        ),
        pytest.param(
            "name: x\nsteps: [{tool_calls: [{name: a}]}, {message: '{output.b}'}]",
            "step 2: {output.b} has no earlier tool_calls step",
            id="output-of-an-uncalled-tool",
        ),
        pytest.param(
            "name: x\nsteps: [{fail: {code: boom, message: m}}]",
            "steps[0].fail.code",
            id="bad-code",
        ),
        pytest.param(
            "name: x\nsteps: [{incomplete: {reason: tired}}]",
            "steps[0].incomplete.reason",
            id="bad-reason",
        ),
        pytest.param(
            "name: x\nsteps: [{tool_calls: [{name: a, arguments: [1]}]}]",
            "steps[0].tool_calls[0].arguments",
            id="bad-arguments",
        ),
        pytest.param("name: x\nsteps: [{delay: -1}]", "steps[0].delay", id="negative-delay"),
        pytest.param("name: x\nsteps: [{mesage: hi}]", "steps[0].mesage", id="typo"),
        pytest.param(
            "default: z\nscenarios: {a: {steps: [{delay: 1}]}}", "default names 'z'", id="default"
        ),
        pytest.param("steps: [: :", "cannot read the scenario file", id="not-yaml"),
    ],
)
def test_malformed_files_name_the_file_and_the_problem(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as error:
        load_scenarios(path)
    assert str(error.value).startswith(f"{path}: ")
    assert problem in str(error.value)


def test_a_missing_file_is_a_scenario_error(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenarios(tmp_path / "absent.yaml")


@pytest.mark.anyio
@pytest.mark.leaves_steps("each run rests in requires_action")
async def test_assistants_pick_their_scenario_by_metadata(
    server: Server, clock: FakeClock, tmp_path: Path
) -> None:
    _, client, _ = await server.open(scenario=write(tmp_path, TWO), clock=clock)
    plain = await client.beta.assistants.create(model="gpt-4o")
    lookup = await client.beta.assistants.create(model="gpt-4o", metadata={"scenario": "lookup"})

    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Hi"}])
    greeted = await read_stream(
        await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=plain.id, stream=True
        )
    )
    assert greeted[-3].data.content[0].text.value == "Hello {literally}: Hi"

    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Find"}])
    found = await read_stream(
        await client.beta.threads.runs.create(
            thread_id=thread.id, assistant_id=lookup.id, stream=True
        )
    )
    assert found[-1].event == "thread.run.requires_action"

    with pytest.raises(openai.BadRequestError, match="no scenario named 'nope' is loaded"):
        await client.beta.assistants.create(model="gpt-4o", metadata={"scenario": "nope"})


@pytest.mark.anyio
async def test_assert_consumed_names_the_threads_left_short(
    server: Server, clock: FakeClock
) -> None:
    two = Scenario.model_validate({"name": "two", "steps": [{"message": "1"}, {"message": "2"}]})
    app, client, _ = await server.open(scenario=two, clock=clock)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    app.state.engine.brains.assert_consumed()  # nothing played yet
    await stream_run(client, assistant.id, thread.id)
    with pytest.raises(AssertionError, match=f"'two' has 2 steps, but {thread.id} played 1"):
        app.state.engine.brains.assert_consumed()
    await stream_run(client, assistant.id, thread.id)
    app.state.engine.brains.assert_consumed()
