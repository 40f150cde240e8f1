"""The `file_search` built-in tool on its own: stores from the assistant and thread, settings
from the run's tool, result content only when `include[]` asks, citations."""

from __future__ import annotations

import math
from typing import Any

import pytest

from runflow.testing import FakeClock
from runflow_server.brains import BuiltinCall, BuiltinContext
from runflow_server.file_search.tool import INCLUDE_CONTENT, FileSearchTool, citation_marker

from .conftest import Server
from .vector_support import open_search

pytestmark = pytest.mark.anyio


def _call(queries: tuple[str, ...]) -> BuiltinCall:
    return BuiltinCall("file_search", queries=queries)


def _context(
    run: dict[str, Any],
    assistant: dict[str, Any],
    thread: dict[str, Any],
    include: frozenset[str] = frozenset(),
) -> BuiltinContext:
    return BuiltinContext(run, assistant, thread, _NO_FILES, include, math.inf)


class _NoFiles:
    def create_file(self, name: str, data: bytes, purpose: str) -> str:
        raise AssertionError("file search writes no file")

    def read(self, file_id: str) -> bytes:
        raise AssertionError("file search reads uploads through its own service")

    def get(self, file_id: str) -> dict[str, Any] | None:
        raise AssertionError("file search reads uploads through its own service")


_NO_FILES = _NoFiles()


def _resources(*store_ids: str) -> dict[str, Any]:
    return {"tool_resources": {"file_search": {"vector_store_ids": list(store_ids)}}}


async def test_searches_the_assistant_and_thread_stores(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    client = search.client
    foods = await search.upload("foods.txt", "Filip Carola: cake\nTekakwitha Effie: pizza")
    pets = await search.upload("pets.txt", "Filip keeps a cat named Biscuit.")
    mine = await client.vector_stores.create(name="assistant", file_ids=[foods])
    theirs = await client.vector_stores.create(name="thread", file_ids=[pets])
    zoo = await search.upload("zoo.txt", "cat cat cat")  # would win a search for "cat"
    await client.vector_stores.create(name="unrelated", file_ids=[zoo])
    await search.service.wait_idle()
    run = {
        "tools": [
            {"type": "file_search",
             "file_search": {"max_num_results": 1, "ranking_options": {"ranker": "auto",
                                                                      "score_threshold": 0.5}}}
        ],
        "tool_resources": {},
    }  # fmt: skip
    context = _context(run, _resources(mine.id), _resources(theirs.id))

    outcome = await FileSearchTool(search.service).run(
        _call(("what cake does Filip like",)), context
    )
    assert outcome.details["ranking_options"] == {"ranker": "auto", "score_threshold": 0.5}
    (result,) = outcome.details["results"]
    assert result["file_id"] == foods and result["file_name"] == "foods.txt"
    assert "content" not in result
    assert outcome.citations[0].quote.startswith("Filip Carola: cake")
    assert outcome.output.startswith(citation_marker(0, 0, "foods.txt"))

    cat = await FileSearchTool(search.service).run(
        _call(("cat",)),
        _context(run, _resources(mine.id), _resources(theirs.id), frozenset({INCLUDE_CONTENT})),
    )
    (found,) = cat.details["results"]
    assert found["file_id"] == pets and found["content"][0]["text"].endswith("Biscuit.")
    assert cat.output.startswith("\u30100:0\u2020pets.txt\u3011")
    assert all(r["file_id"] != zoo for r in cat.details["results"])  # not the unrelated store


async def test_no_stores_or_no_match(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    outcome = await FileSearchTool(search.service).run(
        _call(("anything",)), _context({"tools": []}, {}, {})
    )
    assert outcome.details == {
        "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0},
        "results": [],
    }
    assert outcome.citations == () and "No results" in outcome.output
