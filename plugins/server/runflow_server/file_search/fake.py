"""A deterministic, offline stand-in for an OpenAI-compatible `/embeddings` endpoint.

`hashed_embeddings_app()` is a Starlette app answering `POST /v1/embeddings` (the request and
response shapes of the API) with feature-hashed bag-of-words vectors: every lower-cased word,
with a plural `s` dropped, adds ±1 to one of `dimensions` coordinates, chosen by a stable hash.
Texts sharing words get close vectors, so hybrid search can be exercised and timed without a
model. It is not a semantic model: use it for tests and latency figures, never for quality.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

__all__ = ["HashedEmbedder", "hashed_embedding", "hashed_embeddings_app"]

_WORD = re.compile(r"\w+")


def hashed_embedding(text: str, dimensions: int = 256) -> list[float]:
    """The vector of `text`: one ±1 per word, hashed into `dimensions` coordinates."""
    vector = [0.0] * dimensions
    for word in _WORD.findall(text.lower()):
        stem = word[:-1] if len(word) > 3 and word.endswith("s") else word
        digest = hashlib.blake2b(stem.encode(), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vector[value % dimensions] += 1.0 if value >> 63 else -1.0
    return vector


def hashed_embeddings_app(dimensions: int = 256) -> Starlette:
    """The app; `app.state.requests` counts the requests it answered."""

    async def embeddings(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        size = int(body.get("dimensions") or dimensions)
        app.state.requests += 1
        data = [
            {"object": "embedding", "index": n, "embedding": hashed_embedding(text, size)}
            for n, text in enumerate(texts)
        ]
        tokens = sum(len(_WORD.findall(text)) for text in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    app = Starlette(routes=[Route("/v1/embeddings", embeddings, methods=["POST"])])
    app.state.requests = 0
    return app


class HashedEmbedder:
    """`hashed_embedding` as an in-process `Embedder` (no HTTP): for benchmarks of the index."""

    def __init__(self, dimensions: int = 64) -> None:
        self.dimensions = dimensions
        self.texts = 0

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.texts += len(texts)
        return [hashed_embedding(text, self.dimensions) for text in texts]
