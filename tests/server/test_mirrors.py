"""The server's `RunStatus` and `Clock` mirror the core's (the server installs without the core,
so each keeps its own; see `runflow_server/lifecycle.py`): the two must not drift apart."""

from __future__ import annotations

from runflow import RunStatus as CoreRunStatus
from runflow.clock import SystemClock as CoreSystemClock
from runflow.testing import FakeClock
from runflow_server import clock as server_clock
from runflow_server import lifecycle as server_lifecycle


def test_the_run_statuses_are_the_same() -> None:
    server = {status.name: status.value for status in server_lifecycle.RunStatus}
    core = {status.name: status.value for status in CoreRunStatus}
    assert server == core


def test_the_core_clocks_are_clocks_to_the_server() -> None:
    assert isinstance(FakeClock(start=0), server_clock.Clock)
    assert isinstance(CoreSystemClock(), server_clock.Clock)
    assert isinstance(server_clock.SystemClock(), server_clock.Clock)
