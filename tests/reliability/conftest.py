"""Reliability fixtures: the figures of the session go to results/ when it ends."""

from collections.abc import Iterator

import pytest

from .support import write_report


@pytest.fixture(scope="session", autouse=True)
def reliability_report() -> Iterator[None]:
    yield
    write_report()
