import io

import pytest

from runflow._cli import main
from runflow._demo import run_demo

pytestmark = pytest.mark.anyio


async def test_the_demo_runs_two_parallel_calls_then_one_then_answers() -> None:
    out = io.StringIO()

    assert await run_demo(out) == 0

    text = out.getvalue()
    for expected in [
        "-> queued",
        "-> requires_action",
        "call get_weather",
        "call get_local_time",
        "call convert_temperature",
        "submitting 2 output(s)",
        "submitting 1 output(s)",
        "before expires_at",
        "assistant: Lisbon right now: 21°C and sunny in Lisbon, local time 21:40 in Lisbon. "
        "In Fahrenheit that is 69.8°F.",
        "ended completed",
    ]:
        assert expected in text


def test_cli_without_a_command_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    assert "demo" in capsys.readouterr().out
