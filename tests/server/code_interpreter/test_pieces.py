"""The pure parts: the bubblewrap command line, the output collector, file names, limits."""

from __future__ import annotations

import argparse
import base64
from pathlib import Path

import pytest

from runflow_server.code_interpreter import ImageOutput, LogOutput, SandboxLimits
from runflow_server.code_interpreter.options import (
    CodeConfigError,
    add_arguments,
    config_from_arguments,
    load_config,
)
from runflow_server.code_interpreter.outputs import OutputCollector
from runflow_server.code_interpreter.sandbox import SandboxSpec, bubblewrap_command
from runflow_server.code_interpreter.workspace import safe_name


def spec(uid: int | None) -> SandboxSpec:
    return SandboxSpec(
        bwrap="/usr/bin/bwrap",
        python="/opt/py/venv/bin/python",
        python_roots=("/opt/py/base", "/opt/py/venv"),
        data_dir=Path("/srv/sessions/s1/data"),
        ipc_dir=Path("/srv/sessions/s1/ipc"),
        tmp_bytes=1234,
        uid=uid,
        env=(("HOME", "/tmp"),),
    )


def options(command: list[str], flag: str) -> list[tuple[str, str]]:
    return [(command[i + 1], command[i + 2]) for i, word in enumerate(command) if word == flag]


@pytest.mark.parametrize("uid", [None, 420_001], ids=["unprivileged", "root-server"])
def test_the_sandbox_sees_only_what_python_needs(uid: int | None) -> None:
    command = bubblewrap_command(spec(uid), ["python", "-c", "pass"])
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent"):
        assert flag in command
    assert ("/srv/sessions/s1/data", "/mnt/data") in options(command, "--bind")
    assert ("/srv/sessions/s1/ipc", "/run/kernel") in options(command, "--bind")
    assert len(options(command, "--bind")) == 2  # nothing else is writable
    read_only = {source for source, _ in options(command, "--ro-bind")}
    assert read_only <= {"/usr", "/opt/py/base", "/opt/py/venv", "/bin", "/lib", "/lib64", "/sbin"}
    assert command[command.index("--tmpfs") - 1] == "1234"  # a /tmp of a fixed size
    assert "--clearenv" in command and command.index("--remount-ro") < command.index("python")
    if uid is None:
        assert "--unshare-user" in command
    else:  # root: no user namespace (it would keep every capability), a uid of its own
        assert "--unshare-user" not in command
        assert f"--reuid={uid}" in command and "--no-new-privs" in command
        assert "--bounding-set=-all" in command
    assert command[-3:] == ["python", "-c", "pass"]


def test_output_is_cut_past_the_limit_with_a_count() -> None:
    collector = OutputCollector(max_chars=10, max_image_bytes=100)
    collector.add(_message("stream", {"name": "stdout", "text": "0123456789abcdef"}))
    collector.note("the server says")
    assert collector.finish() == [
        LogOutput("0123456789\n[output truncated: 6 more characters not shown]\nthe server says\n")
    ]


def test_images_split_the_log_and_oversized_images_become_a_line() -> None:
    collector = OutputCollector(max_chars=1000, max_image_bytes=8)
    png = base64.b64encode(b"\x89PNG1234").decode()
    big = base64.b64encode(b"\x89PNG" + b"0" * 100).decode()
    collector.add(_message("stream", {"name": "stdout", "text": "before\n"}))
    collector.add(_message("display_data", {"data": {"image/png": png, "text/plain": "<Fig>"}}))
    collector.add(_message("display_data", {"data": {"image/png": big}}))
    collector.add(_message("error", {"traceback": ["\x1b[31mZeroDivisionError\x1b[0m"]}))
    assert collector.add(_message("status", {"execution_state": "idle"}))
    assert collector.failed
    assert collector.finish() == [
        LogOutput("before\n"),
        ImageOutput(b"\x89PNG1234"),
        LogOutput("[an image of 104 bytes was not kept: over the limit]\nZeroDivisionError\n"),
    ]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("report.csv", "report.csv"),
        ("../../etc/passwd", "passwd"),
        ("a\\b\\c.txt", "c.txt"),
        ("..", "file-x"),
        ("", "file-x"),
        ("new\nline.txt", "new_line.txt"),
    ],
)
def test_file_names_stay_in_mnt_data(name: str, expected: str) -> None:
    assert safe_name(name, "file-x") == expected


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="memory_bytes must be positive"):
        SandboxLimits(memory_bytes=0)


def _message(kind: str, content: dict[str, object]) -> dict[str, object]:
    return {"header": {"msg_type": kind}, "content": content}


def test_flags_and_a_config_file_make_the_session_config(tmp_path: Path) -> None:
    config_file = tmp_path / "code.yaml"
    config_file.write_text("max_sessions: 3\nlimits: {cpu_seconds: 5, wall_seconds: 9}\n")
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(
        ["--code-config", str(config_file), "--code-sessions", "4", "--code-memory-mib", "512"]
    )
    config = config_from_arguments(args)
    assert config is not None
    assert (config.max_sessions, config.limits.memory_bytes) == (4, 512 * 1024 * 1024)
    assert (config.limits.cpu_seconds, config.limits.wall_seconds) == (5, 9)
    assert not config.allow_unsandboxed
    off = parser.parse_args(["--no-code-interpreter"])
    assert config_from_arguments(off) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("max_session: 3\n", "unknown settings \\['max_session'\\]"),
        ("limits: {memory: 1}\n", "unknown settings \\['memory'\\]"),
        ("ttl_seconds: -1\n", "ttl_seconds must be positive"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_a_wrong_config_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    config_file = tmp_path / "code.yaml"
    config_file.write_text(text)
    with pytest.raises(CodeConfigError, match=message):
        load_config(config_file)
