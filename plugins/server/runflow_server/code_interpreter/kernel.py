"""One Jupyter kernel in its sandbox: start it, run code in it, interrupt it, kill it.

The kernel speaks the Jupyter protocol over ZeroMQ IPC sockets in the session's `ipc/`
directory, which the sandbox sees as `/run/kernel`: Unix sockets cross the network namespace,
TCP would not. The server reads the sockets at their host path; the kernel was given the same
ports under its own path. The key that signs messages is fresh for every kernel.

An execution waits for the kernel to be idle again, for its wall time at most; then the kernel
is sent an interrupt (a KeyboardInterrupt in the cell), and if it does not stop within the
grace time it is killed. A kernel whose process ends (killed by its code, by a limit, by a
signal) is noticed at once: the execution ends with status `died`.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import anyio
from anyio.abc import Process
from jupyter_client.asynchronous.client import AsyncKernelClient

from .config import SandboxLimits, SessionConfig
from .outputs import OutputCollector
from .sandbox import FONT_SEED_DIR, IPC_DIR, SandboxSpec, bubblewrap_command, python_roots

__all__ = ["Kernel", "KernelStartError", "make_directories"]

_BOOT = Path(__file__).with_name("kernel_boot.py").read_text(encoding="utf-8")
_CHANNELS = ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port")
Drained = Literal["idle", "timeout", "died"]
Ran = Literal["ok", "timeout", "died"]


class KernelStartError(RuntimeError):
    """The session's Python did not start (its log says why)."""


@dataclass(frozen=True)
class _Layout:
    """The directories of one session on the host."""

    root: Path

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def ipc(self) -> Path:
        return self.root / "ipc"

    @property
    def log(self) -> Path:
        return self.root / "kernel.log"

    def make(self, uid: int | None) -> None:
        for directory in (self.root, self.data, self.ipc):
            directory.mkdir(mode=0o700, exist_ok=True)
        if uid is not None:  # the kernel's own uid must own what it writes to
            for directory in (self.data, self.ipc):
                os.chown(directory, uid, uid)


def make_directories(root: Path, uid: int | None) -> _Layout:
    """The directories of a session under `root` (made if missing), the kernel's uid owning
    the ones it writes to."""
    layout = _Layout(root)
    layout.make(uid)
    return layout


def _environment(home: str, venv: str) -> dict[str, str]:
    return {
        "PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
        "MPLBACKEND": "module://matplotlib_inline.backend_inline",
        "MPLCONFIGDIR": f"{home}/.matplotlib",
        "IPYTHONDIR": f"{home}/.ipython",
        "JUPYTER_CONFIG_DIR": f"{home}/.jupyter",
        "JUPYTER_DATA_DIR": f"{home}/.jupyter/data",
        "JUPYTER_RUNTIME_DIR": f"{home}/.jupyter/runtime",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


class Kernel:
    """A running kernel (use `Kernel.start`)."""

    def __init__(
        self, process: Process, client: AsyncKernelClient, layout: _Layout, limits: SandboxLimits
    ) -> None:
        self._process = process
        self._client = client
        self.layout = layout
        self.limits = limits
        self.pid = process.pid

    @classmethod
    async def start(
        cls,
        root: Path,
        config: SessionConfig,
        *,
        bwrap: str | None,
        uid: int | None,
        font_seed: Path | None = None,
    ) -> Kernel:
        """Start a kernel with its directories under `root`, sandboxed unless `bwrap` is None.

        `font_seed` is a directory with matplotlib's font list, built beforehand.

        Raises:
            KernelStartError: the kernel did not answer within the start timeout.
        """
        layout = make_directories(root, uid)
        key = secrets.token_hex(32)
        inner_ip = f"{IPC_DIR}/kernel" if bwrap else str(layout.ipc / "kernel")
        connection = _connection(inner_ip, key)
        connection_file = layout.ipc / "connection.json"
        connection_file.write_text(json.dumps(connection))
        if uid is not None:
            os.chown(connection_file, uid, uid)
        inner_file = f"{IPC_DIR}/connection.json" if bwrap else str(connection_file)
        limits = config.limits.boot_arguments(sandboxed=bwrap is not None)
        argv = [config.python, "-I", "-c", _BOOT, inner_file, json.dumps(limits)]
        process = await _spawn(argv, layout, config, bwrap=bwrap, uid=uid, font_seed=font_seed)
        client = AsyncKernelClient()
        client.load_connection_info(dict(connection, ip=str(layout.ipc / "kernel")))  # type: ignore[arg-type]
        client.start_channels(stdin=False, hb=False)
        kernel = cls(process, client, layout, config.limits)
        try:
            await kernel._wait_ready(config.start_timeout_seconds)
        except BaseException:
            await kernel.kill()
            raise
        return kernel

    @property
    def alive(self) -> bool:
        """Whether the kernel's process is still running."""
        return self._process.returncode is None

    @property
    def exit_description(self) -> str:
        """How the process ended ("killed by signal 9", "exit code 1")."""
        code = self._process.returncode
        if code is None:
            return "running"
        if code < 0 or code > 128:  # bubblewrap reports a signal as 128 + its number
            return f"killed by signal {-code if code < 0 else code - 128}"
        return f"exit code {code}"

    async def execute(self, code: str, collector: OutputCollector) -> Ran:
        """Run `code`; its outputs go to `collector`. Interrupts, then kills, a cell over time."""
        await self._discard_replies()
        msg_id = self._client.execute(code, store_history=True, allow_stdin=False)
        try:
            drained = await self._drain(msg_id, collector, self.limits.wall_seconds)
        except anyio.get_cancelled_exc_class():  # the run ended (cancelled, expired): stop the cell
            if self.alive:
                self._interrupt()
            raise
        if drained != "timeout":
            return "ok" if drained == "idle" else "died"
        self._interrupt()
        if await self._drain(msg_id, collector, self.limits.interrupt_grace_seconds) != "idle":
            await self.kill()
        return "timeout"

    async def kill(self) -> None:
        """End the kernel and its sandbox (every process in it), and close the channels."""
        if self.alive:
            self._process.kill()
        with anyio.CancelScope(shield=True):
            await self._process.wait()
            await self._process.aclose()
        self._client.stop_channels()

    async def _wait_ready(self, seconds: float) -> None:
        """Wait until the kernel answers a `kernel_info` request on IOPub too (so that no
        output of the first execution is missed), re-asking every half second."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg_id = self._client.kernel_info()
            probe = OutputCollector(max_chars=0, max_image_bytes=0)
            drained = await self._drain(msg_id, probe, min(0.5, deadline - time.monotonic()))
            if drained == "idle":
                await self._discard_replies()
                return
            if drained == "died":
                raise KernelStartError(
                    f"the session's Python ended ({self.exit_description})"
                    f" before it answered: {self._log_tail()}"
                )
        raise KernelStartError(f"the session's Python did not answer within {seconds:g} s")

    async def _drain(self, msg_id: str, collector: OutputCollector, seconds: float) -> Drained:
        """Read IOPub until the kernel is idle after `msg_id`, for `seconds` at most."""
        result: Drained = "died"
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                await self._process.wait()
                group.cancel_scope.cancel()

            group.start_soon(watch)
            result = await self._read_until_idle(msg_id, collector, time.monotonic() + seconds)
            group.cancel_scope.cancel()
        return result

    async def _read_until_idle(
        self, msg_id: str, collector: OutputCollector, deadline: float
    ) -> Drained:
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                message = await self._client.get_iopub_msg(timeout=remaining)
            except queue.Empty:
                break
            if message.get("parent_header", {}).get("msg_id") == msg_id and collector.add(message):
                return "idle"
        return "timeout"

    def _interrupt(self) -> None:
        """Ask the kernel to interrupt the cell (it sends itself SIGINT)."""
        request = self._client.session.msg("interrupt_request", {})
        self._client.control_channel.send(request)

    async def _discard_replies(self) -> None:
        """Drop the shell and control replies that came so far (outputs come on IOPub)."""
        for channel in (self._client.shell_channel, self._client.control_channel):
            while await channel.msg_ready():
                await channel.get_msg(timeout=0)

    def _log_tail(self) -> str:
        try:
            return self.layout.log.read_text(errors="replace")[-2000:].strip() or "(no log)"
        except OSError:
            return "(no log)"


def _connection(ip: str, key: str) -> dict[str, Any]:
    ports = {name: number for number, name in enumerate(_CHANNELS, start=1)}
    return {**ports, "ip": ip, "key": key, "transport": "ipc", "signature_scheme": "hmac-sha256"}


def _venv_of(python: str) -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(python)))


async def _spawn(
    argv: list[str],
    layout: _Layout,
    config: SessionConfig,
    *,
    bwrap: str | None,
    uid: int | None,
    font_seed: Path | None,
) -> Process:
    venv = _venv_of(config.python)
    if bwrap is None:  # unsafe: the code runs as the server's user, in the session directory
        home = layout.root / "home"
        home.mkdir(mode=0o700, exist_ok=True)
        env = _environment(str(home), venv)
        if font_seed is not None:
            env["RUNFLOW_MPL_SEED"] = str(font_seed)
        command, cwd = argv, str(layout.data)
    else:
        inner_env = _environment("/tmp", venv)
        read_only: tuple[tuple[str, str], ...] = ()
        if font_seed is not None:
            inner_env["RUNFLOW_MPL_SEED"] = FONT_SEED_DIR
            read_only = ((str(font_seed), FONT_SEED_DIR),)
        spec = SandboxSpec(
            bwrap=bwrap,
            python=config.python,
            python_roots=python_roots(config.python),
            data_dir=layout.data,
            ipc_dir=layout.ipc,
            tmp_bytes=config.limits.tmp_bytes,
            uid=uid,
            env=tuple(inner_env.items()),
            read_only=read_only,
        )
        command = bubblewrap_command(spec, argv)
        env, cwd = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}, str(layout.root)
    with layout.log.open("ab") as log:
        return await anyio.open_process(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env, cwd=cwd
        )
