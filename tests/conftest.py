"""What every test tree shares: the anyio backend, and `runflow.testing.LocalServer`s that fail
a test which left scripted steps unplayed.

A test that leaves steps on purpose (it cancels a run, lets it expire, or stops a conversation
midway) says so with `@pytest.mark.leaves_steps("why")`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Generator
from typing import Any

import pytest

from runflow.testing import FakeClock, LocalServer

ServerFactory = Callable[..., LocalServer]

_CALL_PASSED = pytest.StashKey[bool]()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "leaves_steps(reason): the test leaves scripted scenario steps unplayed on purpose"
        " (a cancel, an expiry), so its servers' assert_consumed() is not checked",
    )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call":
        item.stash[_CALL_PASSED] = report.passed
    return report


def check_consumed(request: pytest.FixtureRequest, servers: list[LocalServer]) -> None:
    """After a test that passed and is not marked `leaves_steps`: every server's scripted
    steps were played to the end on each thread that started them."""
    if request.node.get_closest_marker("leaves_steps") is not None:
        return
    if request.node.stash.get(_CALL_PASSED, False):
        for server in servers:
            server.assert_consumed()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Every async test and fixture runs on asyncio (session-wide, so fixtures of any scope can
    be async)."""
    return "asyncio"


@pytest.fixture
async def make_server(request: pytest.FixtureRequest) -> AsyncIterator[ServerFactory]:
    """`make_server(steps, clock=None, **options)`: a `LocalServer` playing `steps` (options go
    to `create_app`), closed when the test ends; then it must have played every step."""
    servers: list[LocalServer] = []

    def make(
        steps: list[dict[str, Any]] | None = None, clock: FakeClock | None = None, **options: Any
    ) -> LocalServer:
        servers.append(LocalServer(steps, clock=clock, **options))
        return servers[-1]

    try:
        yield make
    finally:
        for server in servers:
            await server.aclose()
    check_consumed(request, servers)
