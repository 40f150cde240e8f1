"""Durable resume: a process dies mid-run; a new one with the same journal finishes the runs."""

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from openai import AsyncOpenAI
from openai.types.beta.threads import Run

from runflow import (
    ConnectionLostError,
    Journal,
    OpenAIBackend,
    RetryPolicy,
    Runner,
    RunStatus,
    ThreadBusyError,
    ToolRegistry,
)
from runflow.backends import RunAnswer, RunReply, ToolOutput
from tests.conftest import ServerFactory

pytestmark = pytest.mark.anyio

SCENARIO = [
    {"tool_calls": [{"name": "charge", "arguments": {"amount": 5}}]},
    {"message": "done: {outputs}"},
]


class Crash(BaseException):
    """The process dies here: nothing after it runs, nobody cancels anything."""


class DyingBackend(OpenAIBackend):
    """The real backend, in a process that dies at one chosen point."""

    def __init__(self, client: AsyncOpenAI, die: str) -> None:
        super().__init__(client)
        self.die = die

    async def create_run(
        self, *, thread_id: str, assistant_id: str, options: Mapping[str, Any], stream: bool
    ) -> RunAnswer:
        answer = await super().create_run(
            thread_id=thread_id, assistant_id=assistant_id, options=options, stream=stream
        )
        return await self._maybe_die("after-create-request", answer)

    async def submit_tool_outputs(
        self, *, thread_id: str, run_id: str, tool_outputs: Sequence[ToolOutput], stream: bool
    ) -> RunAnswer:
        if self.die == "before-submit":
            raise Crash
        answer = await super().submit_tool_outputs(
            thread_id=thread_id, run_id=run_id, tool_outputs=tool_outputs, stream=stream
        )
        return await self._maybe_die("after-submit-request", answer)

    async def _maybe_die(self, point: str, answer: RunAnswer) -> RunAnswer:
        if self.die == point:
            if not isinstance(answer, RunReply):
                await answer.aclose()
            raise Crash  # the request reached the server; its answer is lost
        return answer

    async def cancel_run(self, *, thread_id: str, run_id: str) -> Run:
        raise Crash  # a dead process cancels nothing


class FlakyListing(OpenAIBackend):
    """The real backend, whose first listing of a thread's runs loses its connection."""

    def __init__(self, client: AsyncOpenAI) -> None:
        super().__init__(client)
        self.listings = 0

    async def list_runs(self, *, thread_id: str, limit: int = 20) -> list[Run]:
        self.listings += 1
        if self.listings == 1:
            raise ConnectionLostError("connection reset while listing the runs")
        return await super().list_runs(thread_id=thread_id, limit=limit)


def charging_tools(charges: list[int], *, die_in_handler: bool = False) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool
    async def charge(amount: int) -> str:
        charges.append(amount)  # the side effect
        if die_in_handler:
            raise Crash
        return f"charged {amount}"

    return registry


async def crash_then_resume(
    make_server: ServerFactory, tmp_path: Path, die: str, *, die_in_handler: bool = False
) -> tuple[list[int], list[Any], str]:
    server = make_server(SCENARIO)
    assistant_id, thread_id = await server.assistant_and_thread()
    charges: list[int] = []
    journal_path = tmp_path / "journal.db"

    first = Runner(
        DyingBackend(server.client, die),
        charging_tools(charges, die_in_handler=die_in_handler),
        journal=Journal(journal_path),
    )
    with pytest.raises(Crash):
        await first.run(thread_id=thread_id, assistant_id=assistant_id)

    second = Runner(server.client, charging_tools(charges), journal=Journal(journal_path))
    results = await second.resume()
    assert await second.resume() == []  # nothing is left unfinished
    return charges, results, thread_id


async def test_a_journaled_output_is_submitted_without_running_its_handler_again(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    charges, [result], _ = await crash_then_resume(make_server, tmp_path, "before-submit")

    assert charges == [5]  # charged once, before the crash; never again
    assert result.status is RunStatus.COMPLETED
    assert result.output_text == "done: charged 5"


async def test_a_handler_cut_by_the_crash_runs_again_the_documented_window(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    charges, [result], _ = await crash_then_resume(
        make_server, tmp_path, "never", die_in_handler=True
    )

    assert charges == [5, 5]  # side effect, crash before the journal write, run again
    assert result.output_text == "done: charged 5"


async def test_a_run_whose_creation_was_never_answered_is_found_by_its_key(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    charges, [result], thread_id = await crash_then_resume(
        make_server, tmp_path, "after-create-request"
    )

    assert charges == [5]
    assert result.status is RunStatus.COMPLETED
    assert result.run.thread_id == thread_id
    assert result.run.metadata is not None and "runflow_run_key" in result.run.metadata


async def test_a_submission_whose_answer_was_lost_is_not_repeated(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    charges, [result], _ = await crash_then_resume(make_server, tmp_path, "after-submit-request")

    assert charges == [5]
    assert result.status is RunStatus.COMPLETED  # the run went on without us; closed out
    assert result.tool_calls == []  # nothing left to execute after the restart


async def test_the_run_found_by_key_is_the_only_run(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(SCENARIO)
    assistant_id, thread_id = await server.assistant_and_thread()
    journal = tmp_path / "journal.db"
    first = Runner(DyingBackend(server.client, "after-create-request"), journal=Journal(journal))
    with pytest.raises(Crash):
        await first.run(thread_id=thread_id, assistant_id=assistant_id)

    [result] = await Runner(server.client, charging_tools([]), journal=Journal(journal)).resume()

    runs = await server.client.beta.threads.runs.list(thread_id=thread_id)
    assert [run.id for run in runs.data] == [result.run.id]


async def test_the_search_for_a_run_by_its_key_survives_a_transient_failure(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(SCENARIO)
    assistant_id, thread_id = await server.assistant_and_thread()
    journal = tmp_path / "journal.db"
    first = Runner(DyingBackend(server.client, "after-create-request"), journal=Journal(journal))
    with pytest.raises(Crash):
        await first.run(thread_id=thread_id, assistant_id=assistant_id)
    flaky = FlakyListing(server.client)
    retry = RetryPolicy(initial_backoff=0.001)

    [result] = await Runner(
        flaky, charging_tools([]), journal=Journal(journal), retry=retry
    ).resume()

    assert flaky.listings == 2  # tried again, not left for another resume()
    assert result.status is RunStatus.COMPLETED
    runs = await server.client.beta.threads.runs.list(thread_id=thread_id)
    assert [run.id for run in runs.data] == [result.run.id]


@pytest.mark.leaves_steps("the run keeping the thread busy waits in requires_action")
async def test_a_run_refused_at_creation_leaves_nothing_to_resume(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(SCENARIO)
    assistant_id, thread_id = await server.assistant_and_thread()
    other = await server.client.beta.threads.runs.create(
        thread_id=thread_id, assistant_id=assistant_id
    )
    journal = Journal(tmp_path / "journal.db")
    runner = Runner(server.client, charging_tools([]), journal=journal, thread_policy="raise")

    with pytest.raises(ThreadBusyError):
        await runner.run(thread_id=thread_id, assistant_id=assistant_id)

    assert other.id  # the run keeping the thread busy
    assert await journal.unfinished() == []
    assert await runner.resume() == []  # nothing is created behind the caller's back


async def test_one_run_that_cannot_be_resumed_does_not_stop_the_others(
    make_server: ServerFactory, tmp_path: Path
) -> None:
    server = make_server(SCENARIO)
    assistant_id, thread_id = await server.assistant_and_thread()
    journal_path = tmp_path / "journal.db"
    first = Runner(
        DyingBackend(server.client, "before-submit"),
        charging_tools([]),
        journal=Journal(journal_path),
    )
    with pytest.raises(Crash):
        await first.run(thread_id=thread_id, assistant_id=assistant_id)
    journal = Journal(journal_path)
    await journal.run_started(
        "gone", assistant_id=assistant_id, thread_id="thread_deleted", options={}, new_thread=None
    )
    await journal.run_created("gone", run_id="run_gone", thread_id="thread_deleted")

    results = await Runner(server.client, charging_tools([]), journal=journal).resume()

    assert [result.status for result in results] == [RunStatus.COMPLETED]
    assert await journal.unfinished() == []  # the one that is gone is closed out
