"""What code interpreter sessions may use, and how many of them live: two frozen records.

`SandboxLimits` bounds one session (memory, CPU and wall time per execution, processes, file
sizes, output kept); `SessionConfig` bounds the sessions (how many, how long they live, where
their directories go, whether running without bubblewrap is allowed). Every number has the
default documented in the server README and a `runflow serve` flag.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["SandboxLimits", "SessionConfig"]

MIB = 1024 * 1024


@dataclass(frozen=True)
class SandboxLimits:
    """The resources of one session.

    Attributes:
        memory_bytes: address space of the session's Python (RLIMIT_AS): an allocation past it
            is a `MemoryError` in the cell.
        cpu_seconds: CPU time of one execution (a `CPUTimeExceeded` error in the cell).
        wall_seconds: wall time of one execution; the cell is then interrupted, and the session
            killed and restarted if it does not stop within `interrupt_grace_seconds`.
        interrupt_grace_seconds: how long an interrupted cell may take to stop.
        session_cpu_seconds: CPU time of the whole session (hard RLIMIT_CPU).
        processes: processes and threads of the session (RLIMIT_NPROC, in its own namespace).
        file_bytes: the largest file the code may write (RLIMIT_FSIZE).
        data_bytes: everything under `/mnt/data` together, checked after each execution; the
            files an execution wrote past it are removed.
        tmp_bytes: size of the session's private `/tmp` (a tmpfs).
        open_files: open file descriptors (RLIMIT_NOFILE).
        output_chars: stdout and stderr kept per execution (the rest is cut, with a marker
            saying how much); the whole log of an execution is at most twice as long.
        image_bytes: the largest image output kept (larger ones become a log line).
    """

    memory_bytes: int = 2048 * MIB
    cpu_seconds: int = 60
    wall_seconds: float = 120.0
    interrupt_grace_seconds: float = 3.0
    session_cpu_seconds: int = 3600
    processes: int = 64
    file_bytes: int = 512 * MIB
    data_bytes: int = 1024 * MIB
    tmp_bytes: int = 256 * MIB
    open_files: int = 256
    output_chars: int = 100_000
    image_bytes: int = 16 * MIB

    def __post_init__(self) -> None:
        for name in ("memory_bytes", "cpu_seconds", "session_cpu_seconds", "processes"):
            _positive(name, getattr(self, name))
        for name in ("file_bytes", "data_bytes", "tmp_bytes", "open_files", "output_chars"):
            _positive(name, getattr(self, name))
        _positive("wall_seconds", self.wall_seconds)
        _positive("image_bytes", self.image_bytes)
        if self.interrupt_grace_seconds < 0:
            raise ValueError("interrupt_grace_seconds must not be negative")

    def boot_arguments(self, *, sandboxed: bool) -> dict[str, int | None]:
        """The limits `kernel_boot.py` sets (no process limit outside a namespace of its own)."""
        return {
            "memory_bytes": self.memory_bytes,
            "processes": self.processes if sandboxed else None,
            "file_bytes": self.file_bytes,
            "open_files": self.open_files,
            "session_cpu_seconds": self.session_cpu_seconds,
            "cpu_seconds": self.cpu_seconds,
            "output_chars": self.output_chars,
        }


@dataclass(frozen=True)
class SessionConfig:
    """How many sessions live, for how long, and how they are sandboxed.

    Attributes:
        max_sessions: live sessions at most; starting one more ends the one idle the longest
            (when every session is busy, the new call fails with a clear error).
        ttl_seconds: a session ends this long after it started (the hosted API: one hour).
        idle_seconds: a session ends after this long without an execution.
        start_timeout_seconds: how long a new kernel may take to answer.
        limits: the resources of each session.
        python: the interpreter of the sessions (with ipykernel, numpy, pandas, matplotlib);
            the server's own by default.
        work_dir: where session directories go (a fresh temporary directory by default).
        allow_unsandboxed: run sessions without bubblewrap when it is missing. Unsafe: the
            code then sees and may change everything the server's user may.
        sandbox_uid_base: when the server runs as root, session N runs as uid base + N (a uid
            of its own, so that the process limit counts only that session).
    """

    max_sessions: int = 16
    ttl_seconds: float = 3600.0
    idle_seconds: float = 1800.0
    start_timeout_seconds: float = 60.0
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    python: str = sys.executable
    work_dir: Path | None = None
    allow_unsandboxed: bool = False
    sandbox_uid_base: int = 420_000

    def __post_init__(self) -> None:
        _positive("max_sessions", self.max_sessions)
        _positive("ttl_seconds", self.ttl_seconds)
        _positive("idle_seconds", self.idle_seconds)
        _positive("start_timeout_seconds", self.start_timeout_seconds)


def _positive(name: str, value: float) -> None:
    if not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}")
