"""Hostile code in a real sandboxed session: it gets a clear error and nothing escapes.

Each test runs code in the module's shared sessions (see conftest): the network, the server's
files, writes outside `/mnt/data`, a fork bomb, memory and CPU and wall-time limits, a flood
of output, a kernel that kills itself, links that point out of `/mnt/data`. After each attack
the session (or its replacement) still runs code.
"""

from __future__ import annotations

import ast
import os
import socket
import sqlite3
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

import runflow_server
from runflow_server.code_interpreter import CodeSessions, InputFile, SessionConfig
from runflow_server.code_interpreter.sandbox import python_roots

from .conftest import LIMITS, MIB, requires_bwrap

pytestmark = [pytest.mark.anyio, requires_bwrap]
KEY = "thread_isolation"


def code(text: str) -> str:
    return textwrap.dedent(text).strip()


async def still_works(sessions: CodeSessions, key: str = KEY) -> None:
    result = await sessions.execute(key, "6 * 7")
    assert (result.status, result.logs) == ("ok", "42\n")


async def test_no_network_not_even_the_servers_loopback(sessions: CodeSessions) -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        result = await sessions.execute(
            KEY,
            code(f"""
            import socket
            for address in [("127.0.0.1", {port}), ("1.1.1.1", 443)]:
                try:
                    socket.create_connection(address, timeout=2)
                    print("connected", address)
                except OSError as exc:
                    print("refused", address, type(exc).__name__)
            """),
        )
    assert "connected" not in result.logs
    assert result.logs.count("refused") == 2
    await still_works(sessions)


async def test_the_servers_database_files_source_and_environment_are_out_of_sight(
    sessions: CodeSessions, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = tmp_path / "runs.db"
    sqlite3.connect(database).close()
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-of-the-server")
    source = Path(runflow_server.__file__)
    targets = [str(database), str(source), "/etc/passwd", "/etc/shadow", "/root/.bashrc"]
    result = await sessions.execute(
        "thread_snoop",  # a new session: it is started with the environment set above
        code(f"""
        import os
        for path in {targets!r}:
            print(path, os.path.exists(path))
        print("env", sorted(os.environ))
        print("root", sorted(os.listdir("/")))
        print("home", os.listdir("/root") if os.path.isdir("/root") else None)
        """),
    )
    for target in targets:
        assert f"{target} False" in result.logs
    assert "sk-secret" not in result.logs and "OPENAI_API_KEY" not in result.logs
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] for line in result.logs.splitlines()}
    python_tops = {Path(root).parts[1] for root in python_roots(sys.executable)}
    system = {"bin", "dev", "etc", "lib", "lib32", "lib64", "libx32", "mnt", "proc", "run"}
    assert set(ast.literal_eval(lines["root"])) <= system | {"sbin", "tmp", "usr"} | python_tops
    assert ast.literal_eval(lines["home"]) in (None, [], [".pyenv"], [".local"])
    await sessions.end("thread_snoop")


async def test_writes_outside_mnt_data_fail_and_tmp_is_private(sessions: CodeSessions) -> None:
    marker = f"runflow-sandbox-{os.getpid()}"
    result = await sessions.execute(
        KEY,
        code(f"""
        for path in ["/usr/x", "/etc/x", "/x", "/root/x", "/run/x"]:
            try:
                open(path, "w").write("x")
                print("wrote", path)
            except OSError as exc:
                print("denied", path, exc.strerror)
        open("/tmp/{marker}", "w").write("private")
        open("/mnt/data/ok.txt", "w").write("fine")
        """),
    )
    assert "wrote" not in result.logs
    assert sum(line.startswith("denied") for line in result.logs.splitlines()) == 5
    assert not await anyio.Path(f"/tmp/{marker}").exists()
    assert [(f.path, f.content) for f in result.files] == [("/mnt/data/ok.txt", b"fine")]


async def test_a_fork_bomb_hits_the_process_limit(sessions: CodeSessions) -> None:
    result = await sessions.execute(
        KEY,
        code("""
        import os, time
        children = []
        try:
            while True:
                pid = os.fork()
                if pid == 0:
                    time.sleep(60)
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            print("fork refused after", len(children), type(exc).__name__)
        for pid in children:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        """),
    )
    assert "fork refused after" in result.logs, result.logs
    assert int(result.logs.split("after")[1].split()[0]) < LIMITS.processes
    await still_works(sessions)


async def test_memory_past_the_limit_is_a_memory_error_and_state_survives(
    sessions: CodeSessions,
) -> None:
    await sessions.execute(KEY, "kept = 'still here'")
    result = await sessions.execute(KEY, f"block = bytearray({2 * LIMITS.memory_bytes})")
    assert result.status == "error"
    assert "MemoryError" in result.logs
    assert (await sessions.execute(KEY, "kept")).logs == "'still here'\n"


async def test_a_cpu_loop_is_stopped_by_its_cpu_time(tmp_path: Path) -> None:
    # A wall time long enough that only the CPU limit can stop it, however loaded the machine.
    roomy = SessionConfig(limits=replace(LIMITS, wall_seconds=120), work_dir=tmp_path)
    sessions = CodeSessions(roomy)
    try:
        result = await sessions.execute(KEY, "while True:\n    pass")
        assert result.status == "error"
        assert "CPUTimeExceeded" in result.logs
        await still_works(sessions)
    finally:
        await sessions.aclose()


async def test_a_sleeping_cell_is_interrupted_at_its_wall_time(sessions: CodeSessions) -> None:
    result = await sessions.execute(KEY, "import time\ntime.sleep(600)")
    assert result.status == "timeout"
    assert "KeyboardInterrupt" in result.logs
    assert f"time limit of {LIMITS.wall_seconds:g} s" in result.logs
    await still_works(sessions)


async def test_code_that_ignores_the_interrupt_loses_its_session(sessions: CodeSessions) -> None:
    key = "thread_stubborn"
    await sessions.execute(key, "before = 1")
    result = await sessions.execute(
        key,
        code("""
        import time
        while True:
            try:
                time.sleep(600)
            except KeyboardInterrupt:
                pass
        """),
    )
    assert result.status == "timeout"
    assert "the session was restarted" in result.logs
    after = await sessions.execute(key, "before")
    assert "NameError" in after.logs and "new one" in after.logs
    await sessions.end(key)


async def test_printing_100_mb_is_cut_with_a_marker(sessions: CodeSessions) -> None:
    result = await sessions.execute(KEY, "print('x' * (100 * 1024 * 1024))\nprint('end')")
    assert result.status == "ok"
    assert len(result.logs) < 3 * LIMITS.output_chars
    assert "[output truncated:" in result.logs
    await still_works(sessions)


async def test_a_kernel_that_kills_itself_is_replaced(sessions: CodeSessions) -> None:
    key = "thread_suicide"
    await sessions.execute(key, "open('/mnt/data/kept.txt', 'w').write('kept'); x = 1")
    result = await sessions.execute(key, "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)")
    assert result.status == "died"
    assert "killed by signal 9" in result.logs
    after = await sessions.execute(key, "print(open('kept.txt').read()); x")
    assert after.logs.startswith("[the previous Python session had ended")
    assert "kept\n" in after.logs and "NameError" in after.logs
    await sessions.end(key)


async def test_a_file_past_the_size_limit_cannot_be_written(sessions: CodeSessions) -> None:
    result = await sessions.execute(
        KEY, f"open('big.bin', 'wb').write(b'0' * {LIMITS.file_bytes + MIB})"
    )
    assert result.status == "error"
    assert "File too large" in result.logs
    await still_works(sessions)
    await sessions.execute(KEY, "import os; os.remove('big.bin')")


async def test_mnt_data_past_its_total_size_loses_the_new_files(sessions: CodeSessions) -> None:
    size = LIMITS.file_bytes - MIB
    result = await sessions.execute(
        KEY, f"for name in ('a.bin', 'b.bin'):\n    open(name, 'wb').write(b'0' * {size})"
    )
    assert result.status == "limit"
    assert result.files == ()
    assert "went over its limit" in result.logs
    listing = await sessions.execute(KEY, "import os; sorted(os.listdir())")
    assert "a.bin" not in listing.logs and "b.bin" not in listing.logs


async def test_links_out_of_mnt_data_are_never_followed(
    sessions: CodeSessions, tmp_path: Path
) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("untouched")
    result = await sessions.execute(
        KEY,
        code(f"""
        import os
        os.symlink("{victim}", "/mnt/data/report.csv")
        os.symlink("/etc", "/mnt/data/etc")
        os.symlink("{victim}", "/mnt/data/input.csv")
        """),
    )
    assert result.files == ()  # the links are not files: neither read nor offered
    staged = InputFile("input.csv", "file-link-test", lambda: b"the user's data")
    read = await sessions.execute(KEY, "print(open('input.csv').read())", [staged])
    assert read.logs == "the user's data\n"
    assert victim.read_text() == "untouched"
