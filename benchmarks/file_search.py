"""File search figures: ingestion throughput, search latency, recall@5.

    uv run python -m benchmarks.file_search            # 10,000 and 100,000 chunks (minutes)
    uv run python -m benchmarks.file_search --smoke    # 1,000 chunks: seconds

Everything goes through the real server app in this process, with the `openai` client over
the ASGI transport (no port), on an in-memory SQLite database:

- **Ingestion**: synthetic text files (words drawn from a 5,000-word vocabulary with Zipf-like
  frequencies, 100 KB each) uploaded, added as one file batch, timed from the batch request
  to the last file `completed`: MB of text per second and chunks per second. Chunking is static,
  100 tokens without overlap, so a corpus of N chunks is N times ~100 tokens.
- **Search latency**: `vector_stores.search` calls (3-word queries from the same vocabulary,
  `max_num_results` 10), p50 and p99 over `--queries` calls, per mode: BM25 (no embeddings) and
  hybrid. Hybrid uses `HashedEmbedder`, a deterministic feature-hashing embedder run in
  process (64 dimensions), standing in for a real embeddings endpoint: its figures measure the
  index (FTS5 + one matrix product + fusion), not a model's round trip, which a real endpoint
  adds to every search.
- **Recall@5** on `recall_set.py` (32 labelled questions), BM25 and hybrid-with-the-fake
  embedder, static chunks of 100 tokens with 50 of overlap.

Results are printed and written to `benchmarks/results/file_search.json`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx2
import openai

from runflow_server import create_app
from runflow_server.file_search import Embedder, FileSearch
from runflow_server.file_search.fake import HashedEmbedder

from .recall_set import DOCUMENTS, QUESTIONS

CHUNKING = {"type": "static", "static": {"max_chunk_size_tokens": 100, "chunk_overlap_tokens": 0}}
FILE_BYTES = 100_000


class Bench:
    """An app with a known `FileSearch` and a client on it."""

    def __init__(self, embedder: Embedder | None) -> None:
        self.app = create_app(file_search_embeddings=embedder)
        self.service: FileSearch = self.app.state.file_search
        self.http = httpx2.AsyncClient(
            transport=httpx2.ASGITransport(app=self.app), base_url="http://bench"
        )
        self.client = openai.AsyncOpenAI(
            base_url="http://bench/v1", api_key="x", http_client=self.http, max_retries=0
        )

    async def aclose(self) -> None:
        await self.service.aclose()
        await self.app.state.engine.aclose()
        await self.http.aclose()


def vocabulary(size: int = 5000, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choices(letters, k=rng.randint(3, 10))) for _ in range(size)]


def synthetic_file(words: Sequence[str], weights: Sequence[float], rng: random.Random) -> str:
    parts: list[str] = []
    length = 0
    while length < FILE_BYTES:
        sentence = " ".join(rng.choices(words, weights, k=12)) + ".\n"
        parts.append(sentence)
        length += len(sentence)
    return "".join(parts)


async def ingest(bench: Bench, chunks: int, seed: int = 1) -> dict[str, Any]:
    """Fill one store with about `chunks` chunks; return the ingestion figures."""
    words = vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(words))]
    rng = random.Random(seed)
    texts: list[str] = []
    made = 0
    while made < chunks:
        texts.append(synthetic_file(words, weights, rng))
        made = len(texts) * _chunks_per_file(texts[0])
    ids = []
    for n, text in enumerate(texts):
        upload = await bench.client.files.create(
            file=(f"f{n}.txt", text.encode()), purpose="assistants"
        )
        ids.append(upload.id)
    store = await bench.client.vector_stores.create(name="bench")
    started = time.perf_counter()
    await bench.client.vector_stores.file_batches.create(
        store.id,
        file_ids=ids,
        chunking_strategy=CHUNKING,  # type: ignore[arg-type]
    )
    await bench.service.wait_idle()
    seconds = time.perf_counter() - started
    done = await bench.client.vector_stores.retrieve(store.id)
    total = sum(len(bench.service.tables.file_text(store.id, i)) for i in ids)
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    assert done.file_counts.completed == len(ids), done.file_counts
    return {
        "store": store.id, "files": len(ids), "chunks": total, "megabytes": round(megabytes, 2),
        "seconds": round(seconds, 2), "mb_per_s": round(megabytes / seconds, 2),
        "chunks_per_s": round(total / seconds),
    }  # fmt: skip


def _chunks_per_file(text: str) -> int:
    from runflow_server.file_search.chunking import count_tokens

    return max(1, count_tokens(text) // 100)


async def latency(bench: Bench, store_id: str, queries: int, seed: int = 3) -> dict[str, float]:
    words = vocabulary()[:2000]
    rng = random.Random(seed)
    timings = []
    for _ in range(queries):
        query = " ".join(rng.sample(words, 3))
        started = time.perf_counter()
        await bench.client.vector_stores.search(store_id, query=query, max_num_results=10)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.99))], 2),
        "queries": queries,
    }


async def recall(embedder: Embedder | None, k: int = 5) -> dict[str, Any]:
    """Recall@k on the labelled set: the share of questions with an answering chunk in the top k."""
    bench = Bench(embedder)
    try:
        store = await bench.client.vector_stores.create(name="recall")
        names: dict[str, str] = {}
        for name, text in DOCUMENTS.items():
            upload = await bench.client.files.create(
                file=(name, text.encode()), purpose="assistants"
            )
            names[upload.id] = name
            await bench.client.vector_stores.files.create(
                store.id, file_id=upload.id,
                chunking_strategy={"type": "static", "static": {"max_chunk_size_tokens": 100,
                                                                "chunk_overlap_tokens": 50}},
            )  # fmt: skip
        await bench.service.wait_idle()
        missed = []
        for question in QUESTIONS:
            page = await bench.client.vector_stores.search(
                store.id, query=question.text, max_num_results=k
            )
            if not any(
                names[hit.file_id] == question.document and question.answer in hit.content[0].text
                for hit in page.data
            ):
                missed.append(question.text)
        found = len(QUESTIONS) - len(missed)
        return {"k": k, "questions": len(QUESTIONS), "found": found,
                "recall": round(found / len(QUESTIONS), 3), "missed": missed}  # fmt: skip
    finally:
        await bench.aclose()


async def main(sizes: Sequence[int], queries: int) -> dict[str, Any]:
    results: dict[str, Any] = {"recall@5": {}, "sizes": {}}
    results["recall@5"]["bm25"] = await recall(None)
    results["recall@5"]["hybrid_fake_embedder"] = await recall(HashedEmbedder())
    for size in sizes:
        row: dict[str, Any] = {}
        for mode, embedder in (("bm25", None), ("hybrid", HashedEmbedder())):
            bench = Bench(embedder)
            try:
                figures = await ingest(bench, size)
                row[mode] = {
                    "ingestion": figures,
                    "search": await latency(bench, figures["store"], queries),
                }
            finally:
                await bench.aclose()
            print(f"{size} chunks, {mode}: {json.dumps(row[mode])}", flush=True)
        results["sizes"][str(size)] = row
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="1,000 chunks, 50 queries")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/file_search.json"))
    args = parser.parse_args()
    sizes, queries = ([1000], 50) if args.smoke else (args.sizes, args.queries)
    found = asyncio.run(main(sizes, queries))
    print(json.dumps(found["recall@5"], indent=2))
    if not args.smoke:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(found, indent=2) + "\n")
