"""Code interpreter: stateful Python sessions (a Jupyter kernel each) in a bubblewrap sandbox.

`CodeSessions` (sessions.py) is the session API the brains and the built-in tool use;
`SessionConfig` and `SandboxLimits` (config.py) say what a session may use; `sandbox.py` builds
the bubblewrap command line; `kernel.py` runs one kernel; `outputs.py` and `workspace.py` turn
what it did into logs, images and files. Needs the `code-interpreter` extra
(`pip install runflow-server[code-interpreter]`) and, to sandbox, bubblewrap.
"""

from .config import SandboxLimits, SessionConfig
from .kernel import KernelStartError
from .outputs import ImageOutput, LogOutput, WrittenFile
from .sandbox import SandboxUnavailable
from .sessions import CodeSessions, Execution, SessionLimitReached
from .workspace import InputFile

__all__ = [
    "CodeSessions",
    "Execution",
    "ImageOutput",
    "InputFile",
    "KernelStartError",
    "LogOutput",
    "SandboxLimits",
    "SandboxUnavailable",
    "SessionConfig",
    "SessionLimitReached",
    "WrittenFile",
]
