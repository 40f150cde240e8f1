"""The journal's storage: group commits under concurrency, errors reach every writer."""

import sqlite3
from pathlib import Path

import anyio
import pytest

from runflow import Journal, ToolCallRecord

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
