"""Recall@5 of BM25 search on the labelled set of `benchmarks/recall_set.py`, and the
benchmark's smoke run (its figures are not asserted, only that it measures what it says)."""

from __future__ import annotations

import pytest

from benchmarks.file_search import Bench, ingest, latency, recall

pytestmark = pytest.mark.anyio


async def test_bm25_recall_at_5() -> None:
    found = await recall(None)
    assert found["questions"] == 32
    assert found["recall"] >= 0.85, found["missed"]  # measured: 29 of 32 (0.906)


async def test_benchmark_measures_a_store() -> None:
    bench = Bench(None)
    try:
        figures = await ingest(bench, 300)
        assert figures["chunks"] >= 300 and figures["mb_per_s"] > 0
        timed = await latency(bench, figures["store"], 5)
        assert 0 < timed["p50_ms"] <= timed["p99_ms"]
    finally:
        await bench.aclose()
