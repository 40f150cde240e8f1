"""The examples run as they are (they are documentation that must not rot)."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("name", ["quickstart", "progress_events"])
async def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    await module.main()

    out = capsys.readouterr().out
    assert {"quickstart": "In Lisbon: 21°C", "progress_events": "[status] completed"}[name] in out
