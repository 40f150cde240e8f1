"""Replay every recorded Assistants and Files exchange against the app (see `replay.py`):
statuses, body shapes and SSE event order must match, but for the whitelisted differences."""

from __future__ import annotations

from pathlib import Path

import pytest

from .replay import DELIBERATE, SCENARIOS, replay_file, replayed_files, sync_twin

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("path", replayed_files(), ids=lambda path: path.name)
async def test_a_recording_replays_with_the_same_statuses_and_shapes(path: Path) -> None:
    report = await replay_file(path)

    assert report.status_matches == report.requests
    assert report.problems == []
    assert report.shape_matches == report.requests
    unused = DELIBERATE.get(report.twin, {}).keys() - report.deliberate
    assert not unused, f"whitelisted but never seen: {unused}"


def test_whitelists_and_scenarios_name_existing_files() -> None:
    names = {sync_twin(path) for path in replayed_files()}

    assert DELIBERATE.keys() <= names and SCENARIOS.keys() <= names
