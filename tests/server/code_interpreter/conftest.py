"""Fixtures: real code interpreter sessions (bubblewrap sandboxes), shared within a module.

Starting a kernel takes a second or two, so each test module shares one `CodeSessions`, and
tests that do not break their session share that too (`key`). The isolation tests need
bubblewrap: without it they are skipped locally and fail in CI (`CI` set), where `.ci/run`
installs it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest

from runflow_server.code_interpreter import CodeSessions, SandboxLimits, SessionConfig

MIB = 1024 * 1024
LIMITS = SandboxLimits(
    memory_bytes=1024 * MIB,
    cpu_seconds=1,
    wall_seconds=2.5,
    interrupt_grace_seconds=1.0,
    processes=48,
    file_bytes=4 * MIB,
    data_bytes=6 * MIB,
    tmp_bytes=16 * MIB,
    output_chars=10_000,
)

requires_bwrap = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="bubblewrap is not installed (apt-get install bubblewrap); CI installs it",
)


@pytest.fixture(scope="module")
async def sessions(request: pytest.FixtureRequest) -> AsyncIterator[CodeSessions]:
    """The module's sessions, with its `SESSION_LIMITS` (tight `LIMITS` by default)."""
    if shutil.which("bwrap") is None and not os.environ.get("CI"):
        pytest.skip("bubblewrap is not installed (apt-get install bubblewrap)")
    limits = getattr(request.module, "SESSION_LIMITS", LIMITS)
    manager = CodeSessions(SessionConfig(limits=limits, max_sessions=4))
    try:
        yield manager
    finally:
        await manager.aclose()
