"""The Azure quickstart and code interpreter how-to examples, run as a user runs them.

Each script runs in a fresh process with the sync `AzureOpenAI` client, against the server
`runflow serve --scenario examples/<name>.yaml` would be (`create_app(scenario=...)` with its
default built-in tools, served by uvicorn on 127.0.0.1), in a temporary directory where it
downloads its files. The code of the scenarios runs for real, in the sandbox.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from runflow_server import create_app

from ..server.support import serve_in_thread

EXAMPLES = Path(__file__).parents[2] / "examples"
PNG = b"\x89PNG\r\n\x1a\n"

pytestmark = pytest.mark.skipif(
    shutil.which("bwrap") is None and not os.environ.get("CI"),
    reason="code interpreter needs bubblewrap (apt-get install bubblewrap); CI installs it",
)


def run_example(name: str, workdir: Path) -> str:
    app = create_app(scenario=EXAMPLES / f"{name}.yaml")
    with serve_in_thread(app) as url:
        env = {**os.environ, "AZURE_OPENAI_ENDPOINT": url, "AZURE_OPENAI_API_KEY": "local"}
        done = subprocess.run(
            [sys.executable, str(EXAMPLES / f"{name}.py")],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_quickstart_draws_downloads_and_follows_up(tmp_path: Path) -> None:
    out = run_example("azure_quickstart", tmp_path)
    sine, dark = (tmp_path / "sinewave.png").read_bytes(), (tmp_path / "dark_sine.png").read_bytes()
    assert sine.startswith(PNG) and dark.startswith(PNG) and sine != dark
    assert "sinewave.png: (" in out and "dark_sine.png: (" in out
    assert "Certainly, here is the code I used" in out  # the follow-up's answer, extracted
    assert '"type": "image_file"' in out


def test_the_how_to_runs_code_on_the_uploaded_file(tmp_path: Path) -> None:
    out = run_example("code_interpreter_howto", tmp_path)
    assert out.count("as written: 400") == 2  # the page's two broken snippets, refused clearly
    assert "three x plus eleven is fourteen -> x = 1" in out  # code ran on the uploaded file
    assert (tmp_path / "my-image.png").read_bytes().startswith(PNG)
    assert (tmp_path / "solution.csv").read_text().splitlines()[0] == "step,equation"
    assert "[0] Click <here> to download /mnt/data/solution.csv" in out
    assert "sandbox:/mnt/data" not in out.rsplit("solution.csv:", 1)[1]  # footnoted
