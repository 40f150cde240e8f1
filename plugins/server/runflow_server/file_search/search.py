"""Search over vector stores: BM25 (SQLite FTS5), hybrid with embeddings by rank fusion.

Scores are in [0, 1]:

- **BM25 only** (no embeddings endpoint): a chunk's BM25 relevance divided by the best one's
  for the same query, so the best match scores 1 and `score_threshold` keeps the chunks at
  least that fraction as relevant. (Raw BM25 values depend on the size of the corpus, a store
  of one chunk gives every term a near-zero weight, so they cannot be compared across stores.)
- **Hybrid**: reciprocal rank fusion of the BM25 ranking and the embedding (cosine) ranking,
  `text_weight / (60 + rank_text) + embedding_weight / (60 + rank_vector)` over the best
  `candidates` of each, divided by its largest possible value (first in both), so a chunk first
  in both lists scores 1. The weights are `ranking_options.hybrid_search` (1 and 1 by default).

Words found in more than a quarter of all chunks are left out of a query that has rarer
ones (`Tables.selective`): they weigh next to nothing in BM25 and make it rank most chunks.

Several queries: each is searched, a chunk keeps its best score. `filters` on file attributes
(`filters.py`) choose the files searched before anything is ranked.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .embeddings import Embedder, pack, unpack
from .filters import Filter, matches
from .records import VectorStoreFile
from .tables import Tables

__all__ = ["Hit", "Query", "Searcher", "fts_query", "query_words"]

_RRF_K = 60
_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Query:
    """One search request, already validated."""

    queries: tuple[str, ...]
    max_num_results: int = 10
    score_threshold: float = 0.0
    filters: Filter | None = None
    text_weight: float = 1.0
    embedding_weight: float = 1.0
    candidates: int = 100


@dataclass(frozen=True)
class Hit:
    """One result: a chunk of a file, with its score."""

    chunk_id: int
    file_id: str
    score: float
    text: str
    position: int
    attributes: dict[str, str | float | bool] = field(default_factory=dict)


def query_words(text: str) -> list[str]:
    """The distinct words of a query, lower-cased, in order."""
    return list(dict.fromkeys(word.lower() for word in _WORD.findall(text)))


def fts_query(words: Sequence[str]) -> str:
    """An FTS5 query matching any of `words` (each quoted: no operators, no syntax errors)."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


class Searcher:
    """Ranks the chunks of some stores for a query; caches each store's embedding matrix."""

    def __init__(self, tables: Tables, embedder: Embedder | None = None) -> None:
        self.tables = tables
        self.embedder = embedder
        self._matrices: dict[str, tuple[int, np.ndarray, np.ndarray, list[str]]] = {}
        self.generation = 0  # bumped by whoever changes chunks: the cached matrices are stale

    async def search(
        self, store_ids: Sequence[str], files: Sequence[VectorStoreFile], query: Query
    ) -> list[Hit]:
        """The best `query.max_num_results` chunks of `files` (in `store_ids`), best first."""
        wanted = [f for f in files if query.filters is None or matches(query.filters, f.attributes)]
        if not wanted or not query.queries:
            return []
        file_ids = [f.id for f in wanted]
        best: dict[int, float] = {}
        for text in query.queries:
            for chunk_id, score in (await self._rank(store_ids, file_ids, text, query)).items():
                best[chunk_id] = max(score, best.get(chunk_id, 0.0))
        kept = [
            (chunk_id, score) for chunk_id, score in best.items() if score >= query.score_threshold
        ]
        kept.sort(key=lambda item: (-item[1], item[0]))
        kept = kept[: query.max_num_results]
        rows = self.tables.chunks([chunk_id for chunk_id, _ in kept])
        attributes = {f.id: f.attributes for f in wanted}
        return [
            Hit(chunk_id, rows[chunk_id][1], round(score, 6), rows[chunk_id][2],
                rows[chunk_id][3], attributes.get(rows[chunk_id][1], {}))
            for chunk_id, score in kept
            if chunk_id in rows
        ]  # fmt: skip

    async def _rank(
        self, store_ids: Sequence[str], file_ids: list[str], text: str, query: Query
    ) -> dict[int, float]:
        match = fts_query(self.tables.selective(query_words(text)))
        lexical = self.tables.bm25(store_ids, file_ids, match, query.candidates) if match else []
        if self.embedder is None:
            top = lexical[0][1] if lexical else 0.0
            return {chunk_id: score / top if top > 0 else 1.0 for chunk_id, score in lexical}
        semantic: list[tuple[int, float]] = []
        if query.embedding_weight > 0:
            semantic = await self._nearest(store_ids, set(file_ids), text, query.candidates)
        fused: dict[int, float] = {}
        for weight, ranking in ((query.text_weight, lexical), (query.embedding_weight, semantic)):
            if weight <= 0:
                continue  # a ranking weighted 0 adds nothing, not even candidates
            for rank, (chunk_id, _) in enumerate(ranking, start=1):
                fused[chunk_id] = fused.get(chunk_id, 0.0) + weight / (_RRF_K + rank)
        most = (query.text_weight + query.embedding_weight) / (_RRF_K + 1)
        return {chunk_id: score / most for chunk_id, score in fused.items()} if most > 0 else {}

    async def _nearest(
        self, store_ids: Sequence[str], file_ids: set[str], text: str, limit: int
    ) -> list[tuple[int, float]]:
        assert self.embedder is not None
        (vector,) = await self.embedder.embed([text])
        probe = np.frombuffer(pack(vector), dtype=np.float32)
        found: list[tuple[int, float]] = []
        for store_id in store_ids:
            ids, matrix, files = self._matrix(store_id)
            if not len(ids) or matrix.shape[1] != probe.shape[0]:
                continue
            scores = matrix @ probe
            if not file_ids.issuperset(files):
                keep = np.fromiter((f in file_ids for f in files), dtype=bool, count=len(files))
                scores = np.where(keep, scores, -np.inf)
            top = np.argpartition(-scores, min(limit, len(scores) - 1))[:limit]
            found += [(int(ids[i]), float(scores[i])) for i in top if np.isfinite(scores[i])]
        found.sort(key=lambda item: -item[1])
        return found[:limit]

    def _matrix(self, store_id: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
        cached = self._matrices.get(store_id)
        if cached is not None and cached[0] == self.generation:
            return cached[1], cached[2], cached[3]
        rows = self.tables.embeddings(store_id)
        sizes = {len(blob) for _, _, blob in rows}
        if len(sizes) > 1:  # the endpoint changed its dimensions: keep the latest kind
            rows = [row for row in rows if len(row[2]) == len(rows[-1][2])]
        ids = np.array([row[0] for row in rows], dtype=np.int64)
        matrix = unpack([row[2] for row in rows]) if rows else np.zeros((0, 0), np.float32)
        files = [row[1] for row in rows]
        self._matrices[store_id] = (self.generation, ids, matrix, files)
        return ids, matrix, files
