"""The journal's storage: group commits under concurrency, errors reach every writer."""

import sqlite3
from pathlib import Path

import anyio
import pytest
from openai.types.beta.threads import Run

from runflow import (
    Journal,
    RequestRejectedError,
    RunCreated,
    RunEnded,
    RunRequested,
    RunStatus,
    ToolCallFinished,
    ToolCallRecord,
)
from runflow._journal import RunLedger

pytestmark = pytest.mark.anyio


def record(call_id: str) -> ToolCallRecord:
    return ToolCallRecord(
        call_id=call_id, name="f", arguments="{}", output="ok", error=None, started_at=0, duration=0
    )


async def test_concurrent_writes_share_commits_and_all_land(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        commits: list[int] = []
        commit = journal._commit

        def counting(batch):  # type: ignore[no-untyped-def]
            commits.append(len(batch))
            commit(batch)

        journal._commit = counting  # type: ignore[method-assign]
        async with anyio.create_task_group() as group:
            for n in range(200):
                group.start_soon(journal.output_recorded, "run_1", record(f"call_{n}"))

        assert len(await journal.outputs("run_1")) == 200
        assert sum(commits) == 200 and len(commits) < 200  # grouped


async def test_a_failed_commit_fails_every_write_in_it(tmp_path: Path) -> None:
    with Journal(tmp_path / "j.db") as journal:
        journal._db.execute("DROP TABLE outputs")
        failures: list[BaseException] = []

        async def write(n: int) -> None:
            try:
                await journal.output_recorded("run_1", record(f"call_{n}"))
            except sqlite3.Error as exc:
                failures.append(exc)

        async with anyio.create_task_group() as group:
            for n in range(5):
                group.start_soon(write, n)

        assert len(failures) == 5


async def test_a_runs_ledger_is_written_from_its_events(tmp_path: Path) -> None:
    """What resume() relies on, written by the ledger as a sink of the run's events."""
    with Journal(tmp_path / "j.db") as journal:
        ledger = RunLedger(journal, "key_1")
        await ledger.emit(RunRequested("key_1", "asst_1", "thread_1", {"model": "m"}, None))
        [entry] = await journal.unfinished()
        assert (entry.key, entry.run_id, entry.options) == ("key_1", None, {"model": "m"})

        run = Run.model_construct(id="run_1", thread_id="thread_1", status="queued")
        await ledger.emit(RunCreated(run, 0.0))
        await ledger.emit(ToolCallFinished("run_1", record("call_1")))
        [entry] = await journal.unfinished()
        assert entry.run_id == "run_1"
        assert list(await journal.outputs("run_1")) == ["call_1"]

        # Driving stopped without an end (the caller's cancellation, say): resume() picks it up.
        await ledger.emit(RunEnded("run_1", RunStatus.IN_PROGRESS, None, RuntimeError("stop")))
        assert len(await journal.unfinished()) == 1
        await ledger.emit(RunEnded("run_1", RunStatus.COMPLETED, None, None))
        assert await journal.unfinished() == []


async def test_a_replayed_output_is_not_written_again_and_a_refused_run_is_closed(
    tmp_path: Path,
) -> None:
    with Journal(tmp_path / "j.db") as journal:
        await journal.output_recorded("run_1", record("call_1"))
        ledger = RunLedger(journal, "key_1")
        replayed = await ledger.replayed("run_1", ["call_1", "call_2"], now=5.0)
        assert list(replayed) == ["call_1"]
        writes: list[str] = []
        write = journal._write

        async def counting(sql: str, parameters: tuple[object, ...]) -> None:
            writes.append(sql.split()[0])
            await write(sql, parameters)

        journal._write = counting  # type: ignore[method-assign]
        await ledger.emit(ToolCallFinished("run_1", replayed["call_1"]))
        assert writes == []

        refused = RunLedger(journal, "key_2")
        await refused.emit(RunRequested("key_2", "asst_1", "thread_1", {}, None))
        await refused.emit(RunEnded("", None, None, RequestRejectedError("no", status_code=400)))
        assert [entry.key for entry in await journal.unfinished()] == []
