"""`runflow temporal worker`: the registry it loads, and clear errors for bad `--tools`."""

from __future__ import annotations

import pytest

from runflow._cli import main
from runflow_temporal.cli import load_registry


def test_the_registry_is_loaded_by_its_spec() -> None:
    registry = load_registry("tests.temporal.tools:registry")
    assert {tool.name for tool in registry} == {"slow_step", "whoami", "io_wait"}


def test_a_function_returning_a_registry_is_called() -> None:
    assert "get_weather" in load_registry("tests.tools:weather_tools")


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        pytest.param("tests.temporal.tools", "must look like pkg.module:registry", id="no-colon"),
        pytest.param("no.such.module:registry", "cannot load", id="no-module"),
        pytest.param("tests.temporal.tools:nothing", "cannot load", id="no-attribute"),
        pytest.param("tests.temporal.support:HEAVY", "not a runflow ToolRegistry", id="not-one"),
    ],
)
def test_bad_tools_exit_2_with_a_message(
    spec: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["temporal", "worker", "--task-queue", "q", "--tools", spec]) == 2
    assert message in capsys.readouterr().err
