"""The first code a session's Python runs, inside the sandbox: limits, then the IPython kernel.

Never imported by the server: `kernel.py` hands its source to `python -I -c`, with the
connection file and the limits (JSON) as arguments, so that no file of the server's source tree
needs to be visible in the sandbox. Standard library and ipykernel only.

- The rlimits are set here, before the kernel exists, so everything the code starts inherits
  them: address space (memory), processes and threads, the size of one file, open files, no core
  dumps, and the CPU time of the whole session as the hard limit.
- The CPU time of one execution: before each cell the soft `RLIMIT_CPU` is moved to the CPU
  time used so far plus the per-execution allowance; past it the kernel gets SIGXCPU, which
  raises `CPUTimeExceeded` in the cell (code that raises its own soft limit only reaches the
  session's hard limit; the wall-time limit, enforced outside, stops it in any case).
"""

import json
import math
import os
import resource
import shutil
import signal
import sys
from typing import Any

_running = False


class CPUTimeExceeded(Exception):
    """The execution used up its CPU time."""


def _limit(kind: int, value: int | None) -> None:
    if value is not None:
        resource.setrlimit(kind, (value, value))


def _cpu_used() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _set_limits(limits: dict[str, Any]) -> None:
    _limit(resource.RLIMIT_AS, limits["memory_bytes"])
    _limit(resource.RLIMIT_NPROC, limits["processes"])
    _limit(resource.RLIMIT_FSIZE, limits["file_bytes"])
    _limit(resource.RLIMIT_NOFILE, limits["open_files"])
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_CPU, limits["session_cpu_seconds"])


def _install_cpu_allowance(shell: Any, per_execution: int) -> None:
    def before(*_: object) -> None:
        global _running
        hard = resource.getrlimit(resource.RLIMIT_CPU)[1]
        soft = math.ceil(_cpu_used()) + per_execution  # whole seconds, never less than asked
        if hard != resource.RLIM_INFINITY:
            soft = min(soft, hard)
        resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))
        _running = True

    def after(*_: object) -> None:
        global _running
        _running = False

    def on_sigxcpu(signum: int, frame: object) -> None:
        if _running:
            raise CPUTimeExceeded(f"the execution used up its {per_execution} s of CPU time")

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)
    signal.signal(signal.SIGXCPU, on_sigxcpu)


def _seed_font_cache() -> None:
    """Copy matplotlib's font list, built once by the server, into this session's config dir
    (saves building it on the first import, about a second)."""
    seed, target = os.environ.get("RUNFLOW_MPL_SEED"), os.environ.get("MPLCONFIGDIR")
    if not seed or not target or not os.path.isdir(seed):
        return
    os.makedirs(target, exist_ok=True)
    for name in os.listdir(seed):
        if name.startswith("fontlist") and name.endswith(".json"):
            shutil.copyfile(os.path.join(seed, name), os.path.join(target, name))


def _cap_output(shell: Any, limit: int) -> None:
    """Stop forwarding stdout and stderr past `limit` characters per execution (the rest is
    counted, then reported in one line), so that printing 100 MB costs no 100 MB message."""
    counts = {"kept": 0, "dropped": 0}
    writers = {}
    for stream in (sys.stdout, sys.stderr):
        original = stream.write
        writers[id(stream)] = original

        def write(text: str, _original: Any = original) -> int:
            room = limit - counts["kept"]
            kept = text[: max(room, 0)]
            counts["kept"] += len(kept)
            counts["dropped"] += len(text) - len(kept)
            if kept:
                _original(kept)
            return len(text)

        stream.write = write  # type: ignore[method-assign]

    def before(*_: object) -> None:
        counts["kept"] = counts["dropped"] = 0

    def after(*_: object) -> None:
        if counts["dropped"]:
            line = f"\n[output truncated: {counts['dropped']} more characters not shown]\n"
            writers[id(sys.stdout)](line)

    shell.events.register("pre_run_cell", before)
    shell.events.register("post_run_cell", after)


def main() -> None:
    connection_file, limits = sys.argv[1], json.loads(sys.argv[2])
    _set_limits(limits)
    _seed_font_cache()
    from ipykernel.kernelapp import IPKernelApp

    app = IPKernelApp.instance()
    app.initialize(  # type: ignore[no-untyped-call]
        [
            "-f",
            connection_file,
            "--HistoryManager.enabled=False",
            "--InteractiveShell.colors=nocolor",
            "--InteractiveShell.xmode=Plain",
        ]
    )
    _install_cpu_allowance(app.shell, limits["cpu_seconds"])
    _cap_output(app.shell, limits["output_chars"])
    app.start()  # type: ignore[no-untyped-call]


if __name__ == "__main__":
    main()
