"""Code interpreter: stateful Python sessions (a Jupyter kernel each) in a bubblewrap sandbox.

`CodeSessions` (sessions.py) is the session API the brains and the built-in tool use;
`SessionConfig` and `SandboxLimits` (config.py) say what a session may use; `sandbox.py` builds
the bubblewrap command line; `kernel.py` runs one kernel; `outputs.py` and `workspace.py` turn
what it did into logs, images and files; `options.py` holds the `runflow serve` flags.

The sessions need the `code-interpreter` extra (`pip install "runflow-server[code-interpreter]"`:
jupyter-client, ipykernel, numpy, pandas, matplotlib) and, to be sandboxed, bubblewrap. The
names that need the extra are imported on first use, so that this package (its config and
flags) imports without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import SandboxLimits, SessionConfig
from .outputs import ImageOutput, LogOutput, WrittenFile
from .sandbox import SandboxUnavailable
from .workspace import InputFile

if TYPE_CHECKING:
    from .kernel import KernelStartError
    from .sessions import CodeSessions, Execution, SessionLimitReached

__all__ = [
    "CodeSessions",
    "Execution",
    "ImageOutput",
    "InputFile",
    "KernelStartError",
    "LogOutput",
    "MissingExtra",
    "SandboxLimits",
    "SandboxUnavailable",
    "SessionConfig",
    "SessionLimitReached",
    "WrittenFile",
]

_LAZY = {
    "CodeSessions": "sessions",
    "Execution": "sessions",
    "SessionLimitReached": "sessions",
    "KernelStartError": "kernel",
}


class MissingExtra(ImportError):
    """The `code-interpreter` extra (jupyter-client, ipykernel...) is not installed."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    try:
        return getattr(importlib.import_module(f".{module}", __name__), name)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "jupyter_client").split(".")[0]
        raise MissingExtra(
            f"code interpreter needs {missing}: pip install 'runflow-server[code-interpreter]'"
        ) from exc
