"""`runflow serve` flags and config file for code interpreter sessions (stdlib and PyYAML only).

```
runflow serve --code-sessions 8 --code-session-ttl 3600 --code-session-idle 600 \\
              --code-memory-mib 1024 --code-wall-seconds 60 [--code-config code.yaml] \\
              [--code-unsafe-no-sandbox] [--no-code-interpreter]
```

A config file (YAML or JSON) holds the same settings by their `SessionConfig` and
`SandboxLimits` names (`max_sessions: 8`, `limits: {memory_bytes: 1073741824}`); flags given on
the command line win over the file.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
from pathlib import Path
from typing import Any

import yaml

from .config import MIB, SandboxLimits, SessionConfig

__all__ = [
    "CodeConfigError",
    "add_arguments",
    "config_from_arguments",
    "load_config",
    "sandbox_warning",
]

# flag -> (SessionConfig or SandboxLimits field, type, scale, help)
_FLAGS: dict[str, tuple[str, type, int, str]] = {
    "--code-sessions": ("max_sessions", int, 1, "live code interpreter sessions at most (16)"),
    "--code-session-ttl": ("ttl_seconds", float, 1, "seconds a session lives (3600)"),
    "--code-session-idle": ("idle_seconds", float, 1, "seconds a session may stay idle (1800)"),
    "--code-memory-mib": ("memory_bytes", int, MIB, "memory of a session, MiB (2048)"),
    "--code-cpu-seconds": ("cpu_seconds", int, 1, "CPU seconds of one execution (60)"),
    "--code-wall-seconds": ("wall_seconds", float, 1, "wall seconds of one execution (120)"),
    "--code-processes": ("processes", int, 1, "processes and threads of a session (64)"),
    "--code-file-mib": ("file_bytes", int, MIB, "largest file a session may write, MiB (512)"),
    "--code-data-mib": ("data_bytes", int, MIB, "all of /mnt/data of a session, MiB (1024)"),
    "--code-tmp-mib": ("tmp_bytes", int, MIB, "the private /tmp of a session, MiB (256)"),
}
_LIMITS = {field.name for field in dataclasses.fields(SandboxLimits)}
_SESSION = {field.name for field in dataclasses.fields(SessionConfig)} - {"limits"}


class CodeConfigError(ValueError):
    """A code interpreter config file or flag that cannot be used."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the code interpreter flags to `runflow serve`'s parser."""
    group = parser.add_argument_group("code interpreter")
    for flag, (name, kind, _, text) in _FLAGS.items():
        group.add_argument(flag, dest=f"code_{name}", type=kind, metavar="N", help=text)
    group.add_argument("--code-config", help="code interpreter settings (YAML or JSON file)")
    group.add_argument(
        "--code-unsafe-no-sandbox",
        action="store_true",
        help="UNSAFE: without bubblewrap, run sessions unsandboxed, as the server's user",
    )
    group.add_argument(
        "--no-code-interpreter", action="store_true", help="turn the code_interpreter tool off"
    )


def config_from_arguments(args: argparse.Namespace) -> SessionConfig | None:
    """The sessions' config from parsed flags (and `--code-config`); None when turned off."""
    if args.no_code_interpreter:
        return None
    config = load_config(args.code_config) if args.code_config else SessionConfig()
    session: dict[str, Any] = {}
    limits: dict[str, Any] = {}
    for name, _, scale, _ in _FLAGS.values():
        value = getattr(args, f"code_{name}")
        if value is not None:
            (limits if name in _LIMITS else session)[name] = value * scale
    if args.code_unsafe_no_sandbox:
        session["allow_unsandboxed"] = True
    try:
        return dataclasses.replace(
            config, limits=dataclasses.replace(config.limits, **limits), **session
        )
    except ValueError as exc:
        raise CodeConfigError(str(exc)) from exc


def load_config(path: str | Path) -> SessionConfig:
    """A `SessionConfig` from a YAML or JSON file; `CodeConfigError` when it is wrong."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CodeConfigError(f"cannot read code interpreter config {path}: {exc}") from exc
    if not isinstance(raw, dict):
        raise CodeConfigError(f"{path}: expected a mapping of settings")
    limits = raw.pop("limits", {}) or {}
    unknown = (set(raw) - _SESSION) | (set(limits) - _LIMITS if isinstance(limits, dict) else set())
    if unknown or not isinstance(limits, dict):
        known = ", ".join(sorted(_SESSION | {"limits"}))
        raise CodeConfigError(f"{path}: unknown settings {sorted(unknown)}; known: {known}")
    if "work_dir" in raw:
        raw["work_dir"] = Path(raw["work_dir"])
    try:
        return SessionConfig(limits=SandboxLimits(**limits), **raw)
    except (TypeError, ValueError) as exc:
        raise CodeConfigError(f"{path}: {exc}") from exc


def sandbox_warning(config: SessionConfig | None) -> str | None:
    """What to tell at startup when the sessions cannot be sandboxed as configured."""
    if config is None or shutil.which("bwrap") is not None:
        return None
    if config.allow_unsandboxed:
        return "WARNING: bubblewrap is missing: code interpreter sessions run UNSANDBOXED"
    return (
        "bubblewrap is missing: code interpreter calls will fail until it is installed"
        " (apt-get install bubblewrap), or until --code-unsafe-no-sandbox allows unsandboxed runs"
    )
