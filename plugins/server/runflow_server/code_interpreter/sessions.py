"""`CodeSessions`: one stateful Python session per thread, started on first use.

```python
sessions = CodeSessions(SessionConfig(max_sessions=8))   # SandboxUnavailable without bwrap
result = await sessions.execute("thread_abc", "x = 41\\nx + 1")
result.logs                # "42\\n"
await sessions.aclose()    # every kernel ends with the server
```

- A session is a kernel (`kernel.py`) in its sandbox, with its own `/mnt/data`. Variables
  survive between calls; two keys are two sessions, and they run at the same time.
- A session ends `ttl_seconds` after it started, or `idle_seconds` after its last call
  (`sweep()` ends them; `run_reaper()` calls it when the next one is due), or when starting
  one more would pass `max_sessions`: the session idle the longest gives way. With every
  session busy, the call fails with `SessionLimitReached`.
- A kernel that died (its code killed it, or a limit did) is replaced by a new one on the
  next call; the files of `/mnt/data` stay, the variables do not. The call during which it
  died reports it in its log.
- After each execution, files new or changed under `/mnt/data` are returned; if the directory
  then holds more than `data_bytes`, those files are removed instead, and the log says so.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from . import workspace
from .config import SessionConfig
from .kernel import Kernel, make_directories
from .outputs import ExecutionStatus, ImageOutput, LogOutput, OutputCollector, WrittenFile
from .sandbox import find_bubblewrap
from .workspace import InputFile

__all__ = ["CodeSessions", "Execution", "SessionLimitReached"]


class SessionLimitReached(RuntimeError):
    """Every one of the `max_sessions` sessions is busy: none can give way to a new one."""


@dataclass(frozen=True)
class Execution:
    """What one call produced.

    Attributes:
        status: `ok`, `error` (the code raised), `timeout` (past its wall time), `died` (the
            session's Python ended during the call) or `limit` (`/mnt/data` over its size).
        outputs: logs and images, in the order they came.
        files: files the call created or changed under `/mnt/data`.
    """

    status: ExecutionStatus
    outputs: tuple[LogOutput | ImageOutput, ...]
    files: tuple[WrittenFile, ...] = ()

    @property
    def logs(self) -> str:
        """All the text output, in one string."""
        return "".join(output.text for output in self.outputs if isinstance(output, LogOutput))

    @property
    def images(self) -> tuple[bytes, ...]:
        """The PNG images displayed."""
        return tuple(output.png for output in self.outputs if isinstance(output, ImageOutput))


@dataclass
class _Session:
    key: str
    slot: int
    root: Path
    started_at: float
    last_used: float
    kernel: Kernel | None = None
    staged: dict[str, str] = field(default_factory=dict)  # source id -> name in /mnt/data
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    closed: bool = False

    @property
    def data(self) -> Path:
        return self.root / "data"


class CodeSessions:
    """The live code interpreter sessions of one server.

    Args:
        config: limits, counts and sandboxing.
        clock: monotonic seconds (tests pass a fake one to expire sessions).

    Raises:
        SandboxUnavailable: bubblewrap is missing and `allow_unsandboxed` is not set.
    """

    def __init__(
        self, config: SessionConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or SessionConfig()
        self._clock = clock
        self._as_root = os.geteuid() == 0
        self.sandboxed = True
        try:
            self._bwrap: str | None = find_bubblewrap(as_root=self._as_root)
        except Exception:
            if not self.config.allow_unsandboxed:
                raise
            self._bwrap, self.sandboxed = None, False
        self._own_dir = self.config.work_dir is None
        self._work = self.config.work_dir or Path(tempfile.mkdtemp(prefix="runflow-code-"))
        self._work.mkdir(mode=0o711, parents=True, exist_ok=True)
        self._sessions: dict[str, _Session] = {}
        self._lock = anyio.Lock()
        self._changed = anyio.Event()
        self._counter = 0
        self._seed: Path | bool | None = None
        self._seed_lock = anyio.Lock()

    @property
    def live(self) -> int:
        """How many sessions exist (a kernel each, or one about to start)."""
        return len(self._sessions)

    def kernel_pid(self, key: str) -> int | None:
        """The host pid of the sandbox of session `key` (for measurements), if running."""
        session = self._sessions.get(key)
        kernel = session.kernel if session else None
        return kernel.pid if kernel and kernel.alive else None

    async def execute(self, key: str, code: str, files: Sequence[InputFile] = ()) -> Execution:
        """Run `code` in the session of `key` (started if needed), `files` in `/mnt/data` first.

        Raises:
            SessionLimitReached: no session could be started (all are busy).
            KernelStartError: the session's Python did not start.
        """
        await self.sweep()
        while True:
            session = await self._session(key)
            async with session.lock:
                if session.closed:  # ended while this call waited for it: take a new one
                    continue
                session.last_used = self._clock()
                await anyio.to_thread.run_sync(self._stage, session, files)
                kernel, restarted = await self._kernel(session)
                try:
                    return await self._run(session, kernel, code, restarted)
                finally:
                    session.last_used = self._clock()

    async def end(self, key: str) -> None:
        """End the session of `key` (nothing if there is none)."""
        async with self._lock:
            session = self._sessions.pop(key, None)
        if session is not None:
            await self._close(session)

    async def sweep(self) -> int:
        """End the sessions past their TTL or idle timeout; how many ended."""
        now = self._clock()
        async with self._lock:
            due = [
                s for s in self._sessions.values() if self._due(s) <= now and not s.lock.locked()
            ]
            for session in due:
                del self._sessions[session.key]
        for session in due:
            await self._close(session)
        return len(due)

    async def run_reaper(self) -> None:
        """Run `sweep()` whenever a session is due, until cancelled (real time only)."""
        while True:
            self._changed = anyio.Event()
            due = min((self._due(s) for s in self._sessions.values()), default=None)
            with anyio.move_on_after(None if due is None else max(due - self._clock(), 0)):
                await self._changed.wait()
            await self.sweep()

    async def aclose(self) -> None:
        """End every session and remove the directories made for them."""
        async with self._lock:
            sessions, self._sessions = list(self._sessions.values()), {}
        for session in sessions:
            await self._close(session)
        if self._own_dir:
            await anyio.to_thread.run_sync(shutil.rmtree, self._work, True)

    def _due(self, session: _Session) -> float:
        return min(
            session.started_at + self.config.ttl_seconds,
            session.last_used + self.config.idle_seconds,
        )

    async def _session(self, key: str) -> _Session:
        async with self._lock:
            found = self._sessions.get(key)
            if found is not None:
                return found
            evicted = self._make_room()
            slot = min(set(range(self.config.max_sessions + 1)) - self._slots())
            self._counter += 1
            now = self._clock()
            root = self._work / f"session-{self._counter}"
            session = _Session(key, slot, root, started_at=now, last_used=now)
            self._sessions[key] = session
            self._changed.set()
        if evicted is not None:
            await self._close(evicted)
        return session

    def _slots(self) -> set[int]:
        return {session.slot for session in self._sessions.values()}

    def _make_room(self) -> _Session | None:
        """Take out the session idle the longest when the sessions are at their cap."""
        if len(self._sessions) < self.config.max_sessions:
            return None
        idle = [s for s in self._sessions.values() if not s.lock.locked()]
        if not idle:
            raise SessionLimitReached(
                f"all {self.config.max_sessions} code interpreter sessions are busy;"
                " try again when one of them is done"
            )
        oldest = min(idle, key=lambda session: session.last_used)
        del self._sessions[oldest.key]
        return oldest

    def _uid(self, session: _Session) -> int | None:
        return self.config.sandbox_uid_base + session.slot if self._as_root else None

    async def _kernel(self, session: _Session) -> tuple[Kernel, bool]:
        """The session's kernel, started now if it has none or its last one died."""
        restarted = session.kernel is not None
        if session.kernel is not None:
            if session.kernel.alive:
                return session.kernel, False
            await session.kernel.kill()
        session.kernel = None
        session.kernel = await Kernel.start(
            session.root,
            self.config,
            bwrap=self._bwrap,
            uid=self._uid(session),
            font_seed=await self._font_seed(),
        )
        return session.kernel, restarted

    async def _font_seed(self) -> Path | None:
        """matplotlib's font list, built once per server by the sessions' Python (our own
        code, run outside the sandbox); None if that Python has no matplotlib."""
        async with self._seed_lock:
            if self._seed is None:
                seed = self._work / "matplotlib"
                seed.mkdir(mode=0o755, exist_ok=True)
                env = {"MPLCONFIGDIR": str(seed), "PATH": os.environ.get("PATH", "/usr/bin")}
                build = [self.config.python, "-I", "-c", "import matplotlib.font_manager"]
                done = await anyio.run_process(build, env=env, check=False)
                self._seed = seed if done.returncode == 0 else False
        return self._seed if isinstance(self._seed, Path) else None

    def _stage(self, session: _Session, files: Sequence[InputFile]) -> None:
        make_directories(session.root, self._uid(session))
        names = set(session.staged.values())
        for item in files:
            if item.source_id in session.staged:
                continue
            name = workspace.safe_name(item.name, item.source_id)
            if name in names:
                stem, dot, suffix = name.rpartition(".")
                name = f"{stem}-{item.source_id}.{suffix}" if dot else f"{name}-{item.source_id}"
            content = item.read()
            total = workspace.total_bytes(workspace.snapshot(session.data)) + len(content)
            if total > self.config.limits.data_bytes:
                raise ValueError(
                    f"the files attached to code interpreter need more than the"
                    f" {self.config.limits.data_bytes} bytes /mnt/data may hold"
                )
            workspace.write_input(session.data, name, content, self._uid(session))
            session.staged[item.source_id] = name
            names.add(name)

    async def _run(
        self, session: _Session, kernel: Kernel, code: str, restarted: bool
    ) -> Execution:
        limits = self.config.limits
        collector = OutputCollector(2 * limits.output_chars, limits.image_bytes)
        if restarted:
            collector.text(
                "[the previous Python session had ended: this code runs in a new one, without"
                " the variables of before; the files of /mnt/data are kept]\n"
            )
        before = await anyio.to_thread.run_sync(workspace.snapshot, session.data)
        ran = await kernel.execute(code, collector)
        status: ExecutionStatus = "error" if collector.failed else "ok"
        if ran == "timeout":
            status = "timeout"
            stopped = "interrupted" if kernel.alive else "stopped: the session was restarted"
            collector.note(
                f"Execution {stopped}: it ran past its time limit of {limits.wall_seconds:g} s."
            )
        elif ran == "died":
            status = "died"
            collector.note(
                f"The Python session ended while running this code ({kernel.exit_description}:"
                " a resource limit, or the code itself). Its variables are lost; the next call"
                " starts a new session."
            )
        files = await anyio.to_thread.run_sync(self._harvest, session, before, collector)
        if files is None:
            status = "limit"
        return Execution(status, tuple(collector.finish()), tuple(files or ()))

    def _harvest(
        self, session: _Session, before: workspace.Snapshot, collector: OutputCollector
    ) -> list[WrittenFile] | None:
        """The files written; None (and they are removed) if /mnt/data is over its size."""
        limit = self.config.limits.data_bytes
        after = workspace.snapshot(session.data)
        written = workspace.changed(before, after)
        extra = workspace.total_bytes(workspace.snapshot(session.root / "ipc"))
        if workspace.total_bytes(after) + extra <= limit:
            return workspace.read_written(session.data, written, max_bytes=limit)
        for relative in written:
            workspace.remove(session.data, relative)
        collector.note(
            f"/mnt/data went over its limit of {limit} bytes: the files this code wrote were"
            f" removed ({', '.join(written) or 'none'})."
        )
        return None

    async def _close(self, session: _Session) -> None:
        async with session.lock:
            session.closed = True
            if session.kernel is not None:
                await session.kernel.kill()
                session.kernel = None
        await anyio.to_thread.run_sync(shutil.rmtree, session.root, True)
