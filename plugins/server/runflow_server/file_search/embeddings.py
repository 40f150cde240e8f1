"""Embeddings for hybrid search: any OpenAI-compatible `/embeddings` endpoint.

`OpenAIEmbeddings` asks through the `openai` client (so Azure OpenAI, a local vLLM / Ollama /
llama.cpp server, anything that speaks the API, works), in batches. Vectors are kept as
float32 bytes beside their chunks (`pack` / `unpack`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:
    import openai

__all__ = ["Embedder", "OpenAIEmbeddings", "embeddings_from", "pack", "unpack"]


class Embedder(Protocol):
    """Turns texts into vectors, one per text, in order."""

    async def embed(self, texts: Sequence[str]) -> list[list[float]]: ...


class OpenAIEmbeddings:
    """Embeddings from `client.embeddings.create(model=model, input=[...])`.

    Args:
        client: an `openai.AsyncOpenAI` (or `AsyncAzureOpenAI`) pointed at the endpoint.
        model: the embeddings model (or Azure deployment) name.
        dimensions: asked of models that can shorten their vectors; None leaves it out.
        batch_size: texts per request.
    """

    def __init__(
        self,
        client: openai.AsyncOpenAI,
        model: str,
        *,
        dimensions: int | None = None,
        batch_size: int = 128,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be positive")
        self.client = client
        self.model = model
        self.dimensions = dimensions
        self.batch_size = batch_size

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = list(texts[start : start + self.batch_size])
            if self.dimensions is None:
                answer = await self.client.embeddings.create(model=self.model, input=batch)
            else:
                answer = await self.client.embeddings.create(
                    model=self.model, input=batch, dimensions=self.dimensions
                )
            ordered = sorted(answer.data, key=lambda item: item.index)
            if len(ordered) != len(batch):
                raise ValueError(
                    f"the embeddings endpoint answered {len(ordered)} vectors for {len(batch)}"
                    " texts"
                )
            vectors += [list(item.embedding) for item in ordered]
        return vectors


def pack(vector: Sequence[float]) -> bytes:
    """A vector as float32 bytes, normalised to length 1 (so a dot product is a cosine)."""
    array = np.asarray(vector, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    return (array / norm if norm else array).tobytes()


def unpack(blobs: Sequence[bytes]) -> np.ndarray:
    """Packed vectors as the rows of one float32 matrix."""
    return np.frombuffer(b"".join(blobs), dtype=np.float32).reshape(len(blobs), -1)


def embeddings_from(base_url: str | None, model: str | None) -> OpenAIEmbeddings | None:
    """The embeddings endpoint `runflow serve --embeddings-url URL --embeddings-model NAME`
    names (its key from `RUNFLOW_EMBEDDINGS_API_KEY`); None without a URL.

    Raises:
        ValueError: a URL without a model.
    """
    if base_url is None:
        return None
    if not model:
        raise ValueError("--embeddings-url needs --embeddings-model")
    import openai

    key = os.environ.get("RUNFLOW_EMBEDDINGS_API_KEY", "unused")
    return OpenAIEmbeddings(openai.AsyncOpenAI(base_url=base_url, api_key=key), model)
