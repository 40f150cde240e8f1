"""Sessions: stateful per key, concurrent across keys, images and files, TTL, idle, the cap."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from runflow_server.code_interpreter import (
    CodeSessions,
    InputFile,
    SandboxUnavailable,
    SessionConfig,
    SessionLimitReached,
)

from .conftest import LIMITS, requires_bwrap

pytestmark = pytest.mark.anyio
SESSION_LIMITS = replace(LIMITS, cpu_seconds=30, wall_seconds=30)  # room to import pandas


class Clock:
    """Monotonic seconds that move only when told."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_variables_survive_between_calls_and_keys_are_separate_sessions(
    sessions: CodeSessions,
) -> None:
    async def define(key: str, value: int) -> None:
        await sessions.execute(key, f"import time; time.sleep(0.2); value = {value}")

    async with anyio.create_task_group() as group:  # two sessions at once
        group.start_soon(define, "thread_a", 1)
        group.start_soon(define, "thread_b", 2)
    assert (await sessions.execute("thread_a", "value")).logs == "1\n"
    assert (await sessions.execute("thread_b", "value")).logs == "2\n"
    assert sessions.live >= 2
    await sessions.end("thread_b")


async def test_plots_become_png_images_and_written_files_are_returned(
    sessions: CodeSessions,
) -> None:
    result = await sessions.execute(
        "thread_a",
        "import numpy as np, matplotlib.pyplot as plt, pandas as pd\n"
        "x = np.linspace(0, 4 * np.pi, 200)\n"
        "plt.plot(x, np.sin(x)); plt.show()\n"
        "pd.DataFrame({'x': [1, 2]}).to_csv('/mnt/data/table.csv', index=False)\n"
        "print('done')",
    )
    assert result.status == "ok", result.logs
    assert result.logs == "done\n"
    assert len(result.images) == 1 and result.images[0].startswith(b"\x89PNG\r\n\x1a\n")
    assert [(f.path, f.content) for f in result.files] == [("/mnt/data/table.csv", b"x\n1\n2\n")]


async def test_input_files_appear_in_mnt_data_once_each(sessions: CodeSessions) -> None:
    reads: list[str] = []

    def source(content: bytes) -> bytes:
        reads.append(content.decode())
        return content

    files = [
        InputFile("data.csv", "file-1", lambda: source(b"1,2")),
        InputFile("../../etc/data.csv", "file-2", lambda: source(b"3,4")),  # same name, cut
    ]
    listing = "import os; print(sorted(os.listdir('/mnt/data')))"
    first = await sessions.execute("thread_files", listing, files)
    again = await sessions.execute("thread_files", listing, files)
    assert first.logs == again.logs == "['data-file-2.csv', 'data.csv']\n"
    assert reads == ["1,2", "3,4"]  # read once, for the first call only
    await sessions.end("thread_files")


@requires_bwrap
async def test_ttl_idle_timeout_and_the_cap_end_sessions(tmp_path: Path) -> None:
    clock = Clock()
    config = SessionConfig(
        limits=LIMITS, max_sessions=2, ttl_seconds=100, idle_seconds=30, work_dir=tmp_path
    )
    manager = CodeSessions(config, clock=clock)

    async def at(time: float, key: str) -> None:
        clock.now = time
        assert (await manager.execute(key, "1")).status == "ok"

    try:
        await at(1000, "one")
        await at(1010, "two")
        await at(1020, "one")
        await at(1030, "three")  # over the cap: "two", idle the longest, gives way
        assert (manager.live, manager.kernel_pid("two")) == (2, None)
        clock.now = 1051  # "one" idle for 31 s, "three" for 21 s
        assert await manager.sweep() == 1
        assert manager.kernel_pid("one") is None and manager.kernel_pid("three") is not None
        for time in (1055, 1080, 1105):
            await at(time, "three")
        clock.now = 1129  # 99 s old
        assert await manager.sweep() == 0
        clock.now = 1131  # 101 s old, used 26 s ago
        assert await manager.sweep() == 1
        assert manager.live == 0
    finally:
        await manager.aclose()
    left = [path async for path in anyio.Path(tmp_path).iterdir()]
    assert left == [anyio.Path(tmp_path / "matplotlib")]  # the session directories are gone


@requires_bwrap
async def test_no_session_can_start_when_every_session_is_busy(tmp_path: Path) -> None:
    manager = CodeSessions(SessionConfig(limits=LIMITS, max_sessions=1, work_dir=tmp_path))
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(manager.execute, "busy", "import time; time.sleep(1)")
            await anyio.wait_all_tasks_blocked()  # the busy call is waiting for its kernel
            with pytest.raises(SessionLimitReached, match="all 1 code interpreter sessions"):
                await manager.execute("other", "1")
    finally:
        await manager.aclose()


async def test_without_bubblewrap_sessions_refuse_unless_unsafe_is_allowed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap, no setpriv on it
    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        CodeSessions(SessionConfig(limits=LIMITS))
    unsafe = CodeSessions(SessionConfig(limits=LIMITS, allow_unsandboxed=True))
    try:
        assert not unsafe.sandboxed
        result = await unsafe.execute("demo", "import os; print(os.path.basename(os.getcwd()))")
        assert result.logs == "data\n"  # the session's own directory, not /mnt/data
    finally:
        await unsafe.aclose()
