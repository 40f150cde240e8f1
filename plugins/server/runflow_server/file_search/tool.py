"""The `file_search` built-in tool: what a run's file-search call does.

It waits for the files of those stores still being ingested (until the run's deadline), then
searches the vector stores of the run's assistant and thread (`tool_resources.file_search.
vector_store_ids`, at most one each) with the call's queries and the run's `file_search` tool
settings (`max_num_results`, 20 by default; `ranking_options`, ranker `default_2024_08_21` and
`score_threshold` 0 by default), and answers with

- `details`: the step's tool call body, `{"ranking_options": {...}, "results": [{"file_id",
  "file_name", "score", "attributes", "content"?}]}`, `content` only when the request's
  `include[]` holds `step_details.tool_calls[*].file_search.results[*].content` (as the hosted
  API did; `step_view` leaves it out again of a step read without that `include[]`);
- `output`: what the brain reads back, each result as its marker `【0:j†file_name】` (`j` its
  index in this call) and its text (`brains.citing`, which brains read it back with);
- `citations`: each result's file, name and text, which the engine turns into `file_citation`
  annotations (with `quote`) for the markers a message contains (`annotations.py`; a marker
  whose index is another call's finds its citation by the file name).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio

from ..brains import BuiltinCall, BuiltinContext, BuiltinOutcome, Citation
from ..brains.citing import format_results, marker
from .search import Hit, Query
from .service import FileSearch, NoSuchUpload

__all__ = ["INCLUDE_CONTENT", "FileSearchTool", "citation_marker", "step_view", "store_ids"]

JSON = dict[str, Any]
INCLUDE_CONTENT = "step_details.tool_calls[*].file_search.results[*].content"
DEFAULT_MAX_RESULTS = 20
DEFAULT_RANKING: JSON = {"ranker": "default_2024_08_21", "score_threshold": 0.0}


citation_marker = marker  # `【0:1†notes.txt】`


def step_view(include: Sequence[str]) -> Callable[[JSON], JSON]:
    """How a run step is shown to a request: file search results keep their `content` only
    when its `include[]` asks for it (content stored when the run's creation asked for it)."""

    def shown(step: JSON) -> JSON:
        details = step.get("step_details") or {}
        if INCLUDE_CONTENT in include or details.get("type") != "tool_calls":
            return step
        calls = [_without_content(call) for call in details.get("tool_calls", [])]
        return {**step, "step_details": {**details, "tool_calls": calls}}

    return shown


def _without_content(call: JSON) -> JSON:
    if call.get("type") != "file_search":
        return call
    body = call.get("file_search") or {}
    results = [
        {key: value for key, value in result.items() if key != "content"}
        for result in body.get("results", [])
    ]
    return {**call, "file_search": {**body, "results": results}}


def _wire(obj: Any) -> Mapping[str, Any]:
    """A record's wire dict, whether it is a mapping already or has `to_wire()`."""
    if isinstance(obj, Mapping):
        return obj
    wire: JSON = obj.to_wire()
    return wire


def store_ids(*owners: Any) -> list[str]:
    """The vector store ids of the assistant, thread (and run) given, in order, once each."""
    found: list[str] = []
    for owner in owners:
        if owner is None:
            continue
        resources = _wire(owner).get("tool_resources") or {}
        for store_id in (resources.get("file_search") or {}).get("vector_store_ids") or []:
            if store_id not in found:
                found.append(store_id)
    return found


def _settings(run: Mapping[str, Any]) -> tuple[int, JSON]:
    for tool in run.get("tools") or []:
        if tool.get("type") == "file_search":
            settings = tool.get("file_search") or {}
            ranking = {**DEFAULT_RANKING, **(settings.get("ranking_options") or {})}
            if ranking.get("hybrid_search") is None:
                ranking.pop("hybrid_search", None)
            return int(settings.get("max_num_results") or DEFAULT_MAX_RESULTS), ranking
    return DEFAULT_MAX_RESULTS, dict(DEFAULT_RANKING)


class FileSearchTool:
    """The built-in tool of type `file_search`, over one `FileSearch`."""

    type = "file_search"

    def __init__(self, service: FileSearch) -> None:
        self.service = service

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        run = _wire(context.run)
        ids = store_ids(context.assistant, context.thread, run)
        limit, ranking = _settings(run)
        hybrid = ranking.get("hybrid_search") or {}
        query = Query(
            tuple(q for q in call.queries if q.strip()),
            max_num_results=limit,
            score_threshold=float(ranking.get("score_threshold", 0.0)),
            text_weight=float(hybrid.get("text_weight", 1.0)),
            embedding_weight=float(hybrid.get("embedding_weight", 1.0)),
        )
        with anyio.move_on_after(max(0.0, context.deadline - self.service.now())):
            await self.service.wait_ready(ids)
        hits = await self.service.search(ids, query) if query.queries else []
        return self.outcome(hits, ranking, INCLUDE_CONTENT in context.include)

    def outcome(self, hits: Sequence[Hit], ranking: JSON, with_content: bool) -> BuiltinOutcome:
        results: list[JSON] = []
        citations: list[Citation] = []
        lines: list[tuple[str, str]] = []
        for hit in hits:
            name = self._name(hit.file_id)
            result: JSON = {"file_id": hit.file_id, "file_name": name, "score": hit.score,
                            "attributes": hit.attributes}  # fmt: skip
            if with_content:
                result["content"] = [{"type": "text", "text": hit.text}]
            results.append(result)
            citations.append(Citation(hit.file_id, name, hit.text))
            lines.append((name, hit.text))
        output = format_results(lines)
        details = {"ranking_options": ranking, "results": results}
        return BuiltinOutcome(details, output, citations=tuple(citations))

    def _name(self, file_id: str) -> str:
        try:
            return self.service.upload(file_id)[0]
        except NoSuchUpload:
            return file_id
