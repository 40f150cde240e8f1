"""Crash consistency of a turn: the server dies (`os._exit`, no cleanup, as under SIGKILL) at
each write of a tool round in turn (the submit, the run going in progress, the turn's commit),
then a new server on the same `--db` file resumes the run. Every resumed run must end as if
nothing happened: completed, one tool step with its output, one message quoting it.

Each crash happens in a forked child process, so the store is a real SQLite file left
mid-transaction by a dead process.
"""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path
from typing import Any

import anyio
import pytest

from runflow.testing import inprocess_client
from runflow_server import Scenario, create_app
from runflow_server.store import Store

SCENARIO = Scenario.model_validate(
    {
        "name": "round",
        "steps": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"message": "It is {outputs}."},
        ],
    }
)
OUTPUT = "sunny"
WRITES = ("add", "put", "save_state")


def _die_at_write(number: int) -> None:
    """From now on, the `number`-th store write (1-based) kills the process before it runs."""
    count = 0
    for name in WRITES:
        original = getattr(Store, name)

        def write(self: Store, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            nonlocal count
            count += 1
            if count == number:
                os._exit(9)
            return _original(self, *args, **kwargs)

        setattr(Store, name, write)


async def _until_submit(db: Path, crash_at: int) -> None:
    app = create_app(db=db, scenario=SCENARIO)
    client = inprocess_client(app)
    assistant = await client.beta.assistants.create(model="gpt-4o")
    thread = await client.beta.threads.create()
    run = await client.beta.threads.runs.create(thread.id, assistant_id=assistant.id)
    await app.state.engine.wait_until_settled()
    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread.id)
    assert run.required_action is not None
    (call,) = run.required_action.submit_tool_outputs.tool_calls
    _die_at_write(crash_at)
    await client.beta.threads.runs.submit_tool_outputs(
        run.id, thread_id=thread.id, tool_outputs=[{"tool_call_id": call.id, "output": OUTPUT}]
    )
    await app.state.engine.wait_until_settled()


def _child(db: Path, crash_at: int) -> None:
    anyio.run(_until_submit, db, crash_at)
    os._exit(0)  # no crash: the round needed fewer writes


async def _resume_and_check(db: Path) -> None:
    app = create_app(db=db, scenario=SCENARIO)
    client = inprocess_client(app)
    (thread_id,) = _all_threads(db)
    (run,) = (await client.beta.threads.runs.list(thread_id)).data
    await app.state.engine.wait_until_settled()
    run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    if run.status == "requires_action":  # the submission never landed: the client sends it again
        assert run.required_action is not None
        (call,) = run.required_action.submit_tool_outputs.tool_calls
        await client.beta.threads.runs.submit_tool_outputs(
            run.id, thread_id=thread_id, tool_outputs=[{"tool_call_id": call.id, "output": OUTPUT}]
        )
        await app.state.engine.wait_until_settled()
        run = await client.beta.threads.runs.retrieve(run.id, thread_id=thread_id)
    assert run.status == "completed", run.last_error
    steps = await client.beta.threads.runs.steps.list(run.id, thread_id=thread_id, order="asc")
    assert [(s.type, s.status) for s in steps.data] == [
        ("tool_calls", "completed"),
        ("message_creation", "completed"),
    ]
    assert steps.data[0].step_details.tool_calls[0].function.output == OUTPUT  # type: ignore[union-attr]
    messages = await client.beta.threads.messages.list(thread_id)
    assert [m.content[0].text.value for m in messages.data] == [f"It is {OUTPUT}."]  # type: ignore[union-attr]
    app.state.engine.brains.assert_consumed()
    await client.close()
    await app.state.engine.aclose()


def _all_threads(db: Path) -> list[str]:
    connection = sqlite3.connect(db)
    try:
        return [row[0] for row in connection.execute("SELECT id FROM threads")]
    finally:
        connection.close()


def test_a_crash_at_any_write_of_a_round_resumes_consistently(tmp_path: Path) -> None:
    fork = multiprocessing.get_context("fork")
    crashed = 0
    for crash_at in range(1, 30):
        db = tmp_path / f"crash-{crash_at}.db"
        child = fork.Process(target=_child, args=(db, crash_at))
        child.start()
        child.join(timeout=60)
        assert child.exitcode in (0, 9), f"write {crash_at}: exit code {child.exitcode}"
        anyio.run(_resume_and_check, db)
        if child.exitcode == 0:
            break
        crashed += 1
    else:
        pytest.fail("the round never finished without crashing")
    assert crashed >= 5  # the submit, in progress, and the turn's commit were all cut
