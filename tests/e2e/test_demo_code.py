"""`runflow demo`'s code interpreter part: real code, its steps, logs and the saved PNG."""

from __future__ import annotations

import io
import re
import shutil
from pathlib import Path

import pytest

from runflow._demo import run_demo

pytestmark = pytest.mark.anyio
PNG = b"\x89PNG\r\n\x1a\n"


async def demo_output() -> str:
    out = io.StringIO()
    assert await run_demo(out) == 0
    return out.getvalue()


def saved_png(text: str) -> bytes:
    match = re.search(r"saved to (\S+\.png)", text)
    assert match is not None, text
    return Path(match.group(1)).read_bytes()


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
async def test_the_demo_runs_code_in_the_sandbox() -> None:
    text = await demo_output()
    assert "UNSANDBOXED" not in text
    for expected in ("step tool_calls completed", "plt.show()", "1000 points, max 1.000"):
        assert expected in text
    assert saved_png(text).startswith(PNG)
    assert "sandbox:/mnt/data/sine.png -> file file-" in text


async def test_without_bubblewrap_the_demo_says_its_own_code_runs_unsandboxed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no bwrap on it
    text = await demo_output()
    assert "the demo's own scripted code runs UNSANDBOXED" in text
    assert "1000 points, max 1.000" in text
    assert saved_png(text).startswith(PNG)
