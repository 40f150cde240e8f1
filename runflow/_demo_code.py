"""`runflow demo`, second part: a code interpreter run on the in-process server.

The scripted assistant runs real Python in a session of the server (numpy and matplotlib draw a
sine wave and save it), then answers with a link to the saved file. Printed: the run's steps,
the code, its logs, the image and the file it produced, and where the PNG was downloaded.

Where bubblewrap is missing, this demo's own scripted code (never code from a model or a
user) runs unsandboxed, and the demo says so.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, TextIO

__all__ = ["CODE_SCENARIO", "run_code_demo"]

SINE_CODE = """\
import numpy as np
import matplotlib.pyplot as plt

x = np.linspace(0, 4 * np.pi, 1000)
plt.plot(x, np.sin(x), color="tab:blue")
plt.title("Sine wave")
plt.savefig("sine.png")
plt.show()
print(f"{len(x)} points, max {np.sin(x).max():.3f}")
"""

CODE_SCENARIO: dict[str, Any] = {
    "name": "sine-wave",
    "steps": [
        {"code_interpreter": {"code": SINE_CODE}},
        {
            "message": "Here is the sine wave: {code.output}"
            "Saved as [sine.png](sandbox:/mnt/data/sine.png)."
        },
    ],
}


async def run_code_demo(out: TextIO, server: Any) -> int:
    """Run the code interpreter part of the demo; the process exit code (0: it worked)."""
    from runflow.testing import inprocess_client

    tool = _tool(out, server)
    if tool is None:
        return 0
    app = server.create_app(
        scenario=server.Scenario.model_validate(CODE_SCENARIO), builtin_tools=[tool]
    )
    client = inprocess_client(app)
    try:
        async with client:
            return await _run(out, client)
    finally:
        await tool.aclose()


def _tool(out: TextIO, server: Any) -> Any:
    try:
        from runflow_server.code_interpreter import SessionConfig
        from runflow_server.code_interpreter.tool import CodeInterpreterTool
    except ImportError as exc:  # the server without its code-interpreter extra
        _print(out, f"\n(code interpreter part skipped: {exc})")
        return None
    sandboxed = shutil.which("bwrap") is not None
    if not sandboxed:
        _print(
            out,
            "\n(bubblewrap is not installed: the demo's own scripted code runs UNSANDBOXED."
            " Code from a model or a user never does: install bubblewrap for that.)",
        )
    return CodeInterpreterTool(SessionConfig(allow_unsandboxed=not sandboxed, max_sessions=1))


async def _run(out: TextIO, client: Any) -> int:
    assistant = await client.beta.assistants.create(
        model="gpt-4o", name="Plotter", tools=[{"type": "code_interpreter"}]
    )
    thread = await client.beta.threads.create(
        messages=[{"role": "user", "content": "Plot a sine wave and save it as a PNG."}]
    )
    _print(out, f"\ncode interpreter: assistant {assistant.id}, thread {thread.id}")
    started = time.perf_counter()
    run = await client.beta.threads.runs.create_and_poll(
        thread_id=thread.id, assistant_id=assistant.id, poll_interval_ms=100
    )
    _print(out, f"run {run.id} ended {run.status} after {time.perf_counter() - started:.2f}s")
    steps = await client.beta.threads.runs.steps.list(
        thread_id=thread.id, run_id=run.id, order="asc"
    )
    for step in steps.data:
        _print(out, f"  step {step.type} {step.status}")
        if step.step_details.type == "tool_calls":
            for call in step.step_details.tool_calls:
                _show_call(out, call)
    messages = await client.beta.threads.messages.list(thread_id=thread.id, run_id=run.id)
    return await _show_answer(out, client, messages.data[0]) if run.status == "completed" else 1


def _show_call(out: TextIO, call: Any) -> None:
    _print(out, "    code:\n" + _indent(call.code_interpreter.input, 6))
    for output in call.code_interpreter.outputs:
        if output.type == "logs":
            _print(out, "    logs:\n" + _indent(output.logs, 6))
        else:
            _print(out, f"    image: {output.image.file_id}")


async def _show_answer(out: TextIO, client: Any, message: Any) -> int:
    folder = Path(tempfile.gettempdir()) / "runflow-demo"  # one place, overwritten each run
    folder.mkdir(exist_ok=True)
    for part in message.content:
        if part.type == "image_file":
            path = folder / "sine-wave.png"
            content = await client.files.content(part.image_file.file_id)
            path.write_bytes(content.read())
            _print(out, f"assistant: [image {part.image_file.file_id}] saved to {path}")
        elif part.type == "text":
            _print(out, f"assistant: {part.text.value}")
            for annotation in part.text.annotations:
                if annotation.type == "file_path":
                    _print(out, f"  {annotation.text} -> file {annotation.file_path.file_id}")
    return 0


def _indent(text: str, width: int) -> str:
    return "\n".join(" " * width + line for line in text.rstrip("\n").splitlines())


def _print(out: TextIO, text: str) -> None:
    print(text, file=out, flush=True)
