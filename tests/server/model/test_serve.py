"""`runflow serve --model-base-url`: the real `openai` client against the server process against
the fake model, both over real HTTP; the key stays out of everything the server says."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from runflow_server import serve_command
from runflow_server.model.fake import FakeChatModel, Scripted

from ..support import read_stream, serve_in_thread

KEY = "sk-serve-secret-9876543210zyx"


@pytest.fixture
def fake() -> FakeChatModel:
    return FakeChatModel.of(
        Scripted.calls(("lookup", '{"word": "banana"}')),
        Scripted.text("The number for banana is 7."),
    )


@pytest.fixture
def served(fake: FakeChatModel, tmp_path: Path) -> Iterator[tuple[str, list[str]]]:
    """The fake on one port, `python -m runflow_server --model-base-url` on another; yields the
    server's /v1 URL and the lines it logged (complete once the fixture ends)."""
    log: list[str] = []
    with serve_in_thread(fake.app) as fake_url:
        command = [sys.executable, "-m", "runflow_server", "--port", "0"]
        command += ["--model-base-url", f"{fake_url}/v1", "--model-map", "gpt-4o=fake-model"]
        env = {**os.environ, "RUNFLOW_MODEL_API_KEY": KEY}
        process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, env=env)
        try:
            assert process.stderr is not None
            for line in process.stderr:
                log.append(line)
                if found := re.search(r"Uvicorn running on (http://\S+)", line):
                    yield f"{found.group(1)}/v1", log
                    break
            else:
                pytest.fail(f"the server exited with {process.wait()}: {''.join(log)}")
        finally:
            process.terminate()
            process.wait(timeout=10)
            if process.stderr is not None:
                log += process.stderr.readlines()
                process.stderr.close()


@pytest.mark.anyio
async def test_a_tool_round_on_a_model_over_http(
    served: tuple[str, list[str]], fake: FakeChatModel
) -> None:
    url, log = served
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {"type": "object"}}}
    async with openai.AsyncOpenAI(base_url=url, api_key="local", max_retries=0) as client:
        assistant = await client.beta.assistants.create(model="gpt-4o", tools=[tool])
        thread = await client.beta.threads.create(messages=[{"role": "user", "content": "banana?"}])
        first = await read_stream(
            await client.beta.threads.runs.create(
                thread_id=thread.id, assistant_id=assistant.id, stream=True
            )
        )
        run = first[-1].data
        [call] = run.required_action.submit_tool_outputs.tool_calls
        assert (call.function.name, call.function.arguments) == ("lookup", '{"word": "banana"}')
        second = await read_stream(
            await client.beta.threads.runs.submit_tool_outputs(
                run.id,
                thread_id=thread.id,
                tool_outputs=[{"tool_call_id": call.id, "output": "7"}],
                stream=True,
            )
        )
        final = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
        steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread.id)
    assert second[-1].event == "thread.run.completed"
    messages = [e.data for e in second if e.event == "thread.message.completed"]
    assert messages[-1].content[0].text.value == "The number for banana is 7."
    assert [body["model"] for body in fake.requests] == ["fake-model", "fake-model"]
    assert fake.requests[1]["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": "7",
    }
    assert all(headers["authorization"] == f"Bearer {KEY}" for headers in fake.headers)
    said = [
        final.model_dump_json(),
        steps.model_dump_json(),
        *[e.model_dump_json() for e in first + second],
    ]
    assert not [text for text in said if KEY in text]
    assert KEY not in "".join(log)


def test_model_flags_that_cannot_work_stop_serve_with_a_message(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert serve_command(["--port", "0", "--model-map", "a=b"]) == 2
    assert "--model-map and --model-api-key need --model-base-url" in capsys.readouterr().err
