"""The examples run as they are (they are documentation that must not rot)."""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.anyio

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.mark.parametrize("name", ["quickstart", "progress_events", "file_search_annotations"])
async def test_example_runs(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    await module.main()

    out = capsys.readouterr().out
    expected = {
        "quickstart": "In Lisbon: 21°C",
        "progress_events": "[status] completed",
        # a footnote marker in the text, and its footnote quoting the cited file
        "file_search_annotations": "200 shots with a citric acid solution. Purge the steam"
        " wand before and after every milk drink. from care.txt",
    }
    assert expected[name] in out
    if name == "file_search_annotations":
        assert "milk drink. [0]\n" in out and "\n[0] Descale the boiler" in out
        assert "【" not in out  # every citation marker became a footnote
