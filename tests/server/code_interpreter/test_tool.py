"""Code interpreter through the API: the real `openai` client, the real app, real sessions.

Scripted `code_interpreter` steps and the default brain's fenced Python run code in the
thread's sandboxed session; the step, its SSE, the image files, the files the code wrote and
their `file_path` annotations are what the hosted API produced.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import openai
import pytest

from runflow_server.code_interpreter import SessionConfig
from runflow_server.scenario import Scenario

from ..conftest import Server
from ..support import read_stream
from .conftest import LIMITS, requires_bwrap

pytestmark = [pytest.mark.anyio, requires_bwrap]
CONFIG = SessionConfig(limits=replace(LIMITS, cpu_seconds=30, wall_seconds=30), max_sessions=4)
PNG = b"\x89PNG\r\n\x1a\n"

SINE = {
    "name": "sine",
    "steps": [
        {
            "code_interpreter": {
                "code": "import numpy as np, matplotlib.pyplot as plt\n"
                "x = np.linspace(0, 4 * np.pi, 100); plt.plot(x, np.sin(x)); plt.show()\n"
                "print(len(x), 'points')"
            }
        },
        {"code_interpreter": {"code": "round(float(x.max()), 3)"}},
        {"message": "Here is the sine wave. {code.output}"},
        {"code_interpreter": {"code": "print(len(x))"}},  # the next run: x is still there
        {"message": "Still {code.output}"},
    ],
}


async def open_app(server: Server, scenario: dict[str, Any], **options: Any) -> openai.AsyncOpenAI:
    options.setdefault("code_interpreter", CONFIG)
    _, client, _ = await server.open(scenario=Scenario.model_validate(scenario), **options)
    return client


async def run(client: openai.AsyncOpenAI, assistant_id: str, thread_id: str, **extra: Any) -> Any:
    """Stream a run to its end; its last run object and the events' names."""
    stream = await client.beta.threads.runs.create(
        thread_id=thread_id, assistant_id=assistant_id, stream=True, **extra
    )
    events = await read_stream(stream)
    runs = [e.data for e in events if e.event.startswith("thread.run.") and "step" not in e.event]
    return runs[-1], [e.event for e in events], events


async def test_a_scripted_plot_is_a_step_an_image_file_and_a_message(server: Server) -> None:
    client = await open_app(server, SINE)
    assistant = await client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "Plot"}])
    final, names, events = await run(client, assistant.id, thread.id)
    assert final.status == "completed", final.last_error
    first_call = names[names.index("thread.run.step.created") :][:5]
    assert first_call == [
        "thread.run.step.created",
        "thread.run.step.in_progress",
        "thread.run.step.delta",  # the input
        "thread.run.step.delta",  # the outputs
        "thread.run.step.completed",
    ]
    step_deltas = [e.data.delta for e in events if e.event == "thread.run.step.delta"]
    deltas = [d.step_details.tool_calls[0] for d in step_deltas]
    code_deltas = [d for d in deltas if getattr(d, "type", None) == "code_interpreter"]
    assert code_deltas[0].code_interpreter.input.startswith("import numpy")

    steps = await client.beta.threads.runs.steps.list(
        thread_id=thread.id, run_id=final.id, order="asc"
    )
    kinds = [step.type for step in steps.data]
    assert kinds == ["tool_calls", "tool_calls", "message_creation"]
    call = steps.data[0].step_details.tool_calls[0]
    assert call.type == "code_interpreter"
    outputs = call.code_interpreter.outputs
    assert len(outputs) == 2, outputs  # once seen with one output on a loaded machine: which?
    image, logs = outputs  # in the order the code made them
    assert (logs.type, logs.logs, image.type) == ("logs", "100 points\n", "image")

    message = (await client.beta.threads.messages.list(thread_id=thread.id)).data[0]
    assert [part.type for part in message.content] == ["image_file", "text"]
    assert message.content[0].image_file.file_id == image.image.file_id
    assert message.content[1].text.value == "Here is the sine wave. 12.566\n"
    png = await client.files.retrieve(image.image.file_id)
    assert png.purpose == "assistants_output"
    assert (await client.files.content(png.id)).read().startswith(PNG)

    await client.beta.threads.messages.create(thread_id=thread.id, role="user", content="Again")
    again, _, _ = await run(client, assistant.id, thread.id)
    answer = (await client.beta.threads.messages.list(thread_id=thread.id)).data[0]
    assert (again.status, answer.content[0].text.value) == ("completed", "Still 100\n")


FILES = {
    "name": "files",
    "steps": [
        {
            "code_interpreter": {
                "code": "import os\nprint(sorted(os.listdir('/mnt/data')))\n"
                "open('/mnt/data/out.csv', 'w').write('a,b\\n1,2\\n')"
            }
        },
        {"message": "{code.output}Download [out.csv](sandbox:/mnt/data/out.csv)."},
    ],
}


async def test_attached_files_are_in_mnt_data_and_written_ones_are_annotated(
    server: Server,
) -> None:
    client = await open_app(server, FILES)
    for_assistant = await client.files.create(file=("rates.csv", b"r\n1\n"), purpose="assistants")
    for_message = await client.files.create(file=("notes.txt", b"hi"), purpose="assistants")
    assistant = await client.beta.assistants.create(
        model="gpt-4o",
        tools=[{"type": "code_interpreter"}],
        tool_resources={"code_interpreter": {"file_ids": [for_assistant.id]}},
    )
    attachment = {"file_id": for_message.id, "tools": [{"type": "code_interpreter"}]}
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "Go", "attachments": [attachment]}]
    )
    final, _, _ = await run(client, assistant.id, thread.id)
    assert final.status == "completed", final.last_error
    text = (await client.beta.threads.messages.list(thread_id=thread.id)).data[0].content[0].text
    assert text.value.startswith("['notes.txt', 'rates.csv']\n")
    (annotation,) = text.annotations
    assert annotation.type == "file_path" and annotation.text == "sandbox:/mnt/data/out.csv"
    assert text.value[annotation.start_index : annotation.end_index] == annotation.text
    written = await client.files.retrieve(annotation.file_path.file_id)
    assert (written.filename, written.purpose) == ("/mnt/data/out.csv", "assistants_output")
    assert (await client.files.content(written.id)).read() == b"a,b\n1,2\n"


async def test_code_past_its_limit_is_an_error_log_and_the_run_goes_on(server: Server) -> None:
    scenario = {
        "name": "hostile",
        "steps": [
            {"code_interpreter": {"code": "import time\ntime.sleep(600)"}},
            {"message": "{code.output}"},
        ],
    }
    client = await open_app(server, scenario, code_interpreter=SessionConfig(limits=LIMITS))
    assistant = await client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = await client.beta.threads.create()
    final, _, _ = await run(client, assistant.id, thread.id)
    assert final.status == "completed"
    text = (await client.beta.threads.messages.list(thread_id=thread.id)).data[0].content[0].text
    assert "KeyboardInterrupt" in text.value
    assert f"time limit of {LIMITS.wall_seconds:g} s" in text.value


async def test_the_default_brain_runs_a_fenced_python_block(server: Server) -> None:
    _, client, _ = await server.open(code_interpreter=CONFIG)
    coder = await client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    question = "What is this?\n```python\nprint(sum(range(10)))\n```"
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": question}])
    final, _, _ = await run(client, coder.id, thread.id)
    steps = await client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=final.id)
    assert [step.type for step in steps.data] == ["message_creation", "tool_calls"]
    answer = (await client.beta.threads.messages.list(thread_id=thread.id)).data[0]
    assert "45" in answer.content[0].text.value

    plain = await client.beta.assistants.create(model="gpt-4o")  # no code interpreter
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": question}])
    final, _, _ = await run(client, plain.id, thread.id)
    steps = await client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=final.id)
    assert [step.type for step in steps.data] == ["message_creation"]


async def test_tool_choice_code_interpreter_forces_a_call(server: Server) -> None:
    _, client, _ = await server.open(code_interpreter=CONFIG)
    assistant = await client.beta.assistants.create(
        model="gpt-4o", tools=[{"type": "code_interpreter"}]
    )
    thread = await client.beta.threads.create(messages=[{"role": "user", "content": "2 ** 10"}])
    forced = {"type": "code_interpreter"}
    final, _, _ = await run(client, assistant.id, thread.id, tool_choice=forced)
    steps = await client.beta.threads.runs.steps.list(thread_id=thread.id, run_id=final.id)
    call = steps.data[-1].step_details.tool_calls[0]
    assert (call.type, call.code_interpreter.input) == ("code_interpreter", "2 ** 10")
    assert call.code_interpreter.outputs[0].logs == "1024\n"
