"""Request bodies of the vector store routes, as the spec defines them (unknown fields refused).

`chunking_strategy` is `{"type": "auto"}` or `{"type": "static", "static":
{"max_chunk_size_tokens": 100..4096, "chunk_overlap_tokens": 0..half of it}}`. Attributes:
at most 16, keys up to 64 characters, string values up to 512.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from ..bodies import MAX_MESSAGE_CHARS
from .filters import ComparisonFilter, CompoundFilter
from .records import AUTO_CHUNKING, Attributes, Chunking

__all__ = [
    "AttributesBody",
    "BatchBody",
    "ChunkingBody",
    "FileBody",
    "SearchBody",
    "StoreBody",
    "StoreUpdateBody",
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _check_attributes(value: Attributes | None) -> Attributes | None:
    if value is None:
        return None
    if len(value) > 16:
        raise ValueError("attributes can hold at most 16 key-value pairs")
    for key, item in value.items():
        if len(key) > 64 or (isinstance(item, str) and len(item) > 512):
            raise ValueError("attribute keys are at most 64 characters, string values 512")
    return value


AttributeMap = Annotated[
    dict[str, Annotated[str | bool | float, Field(union_mode="left_to_right")]] | None,
    AfterValidator(_check_attributes),
]


def _check_metadata(value: dict[str, str] | None) -> dict[str, str] | None:
    if value is not None and (
        len(value) > 16 or any(len(k) > 64 or len(v) > 512 for k, v in value.items())
    ):
        raise ValueError("metadata holds at most 16 pairs, keys of 64 characters, values of 512")
    return value


Metadata = Annotated[dict[str, str] | None, AfterValidator(_check_metadata)]


class StaticSettings(_Body):
    max_chunk_size_tokens: int = Field(ge=100, le=4096)
    chunk_overlap_tokens: int = Field(ge=0)

    @model_validator(mode="after")
    def _overlap(self) -> StaticSettings:
        if self.chunk_overlap_tokens > self.max_chunk_size_tokens // 2:
            raise ValueError("chunk_overlap_tokens must not exceed half of max_chunk_size_tokens")
        return self


class ChunkingBody(_Body):
    type: Literal["auto", "static"]
    static: StaticSettings | None = None

    @model_validator(mode="after")
    def _static(self) -> ChunkingBody:
        if (self.type == "static") != (self.static is not None):
            raise ValueError("'static' is required with type 'static' and only with it")
        return self

    def strategy(self) -> Chunking:
        if self.static is None:
            return AUTO_CHUNKING
        return Chunking(self.static.max_chunk_size_tokens, self.static.chunk_overlap_tokens)


def strategy(body: ChunkingBody | None) -> Chunking:
    return AUTO_CHUNKING if body is None else body.strategy()


class ExpiresAfter(_Body):
    anchor: Literal["last_active_at"]
    days: int = Field(ge=1, le=365)


class StoreBody(_Body):
    file_ids: list[str] | None = Field(default=None, max_length=500)
    name: str | None = None
    description: str | None = Field(default=None, max_length=512)
    expires_after: ExpiresAfter | None = None
    chunking_strategy: ChunkingBody | None = None
    metadata: Metadata = None


class StoreUpdateBody(_Body):
    name: str | None = None
    expires_after: ExpiresAfter | None = None
    metadata: Metadata = None


class FileBody(_Body):
    file_id: str
    attributes: AttributeMap = None
    chunking_strategy: ChunkingBody | None = None


class BatchBody(_Body):
    file_ids: list[str] | None = Field(default=None, min_length=1, max_length=2000)
    files: list[FileBody] | None = Field(default=None, min_length=1, max_length=2000)
    attributes: AttributeMap = None
    chunking_strategy: ChunkingBody | None = None

    @model_validator(mode="after")
    def _one_list(self) -> BatchBody:
        if (self.file_ids is None) == (self.files is None):
            raise ValueError("give exactly one of 'file_ids' and 'files'")
        return self

    def entries(self) -> list[tuple[str, Attributes | None, Chunking]]:
        if self.files is not None:
            return [(f.file_id, f.attributes, strategy(f.chunking_strategy)) for f in self.files]
        chunking = strategy(self.chunking_strategy)
        return [(file_id, self.attributes, chunking) for file_id in self.file_ids or []]


class AttributesBody(_Body):
    attributes: AttributeMap


class HybridSearch(_Body):
    embedding_weight: float = Field(ge=0)
    text_weight: float = Field(ge=0)


class SearchRanking(_Body):
    ranker: Literal["none", "auto", "default-2024-11-15", "default_2024_08_21"] = "auto"
    score_threshold: float = Field(default=0.0, ge=0, le=1)
    hybrid_search: HybridSearch | None = None


Query = Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class SearchBody(_Body):
    query: Query | list[Query] = Field(union_mode="left_to_right")
    rewrite_query: bool = False
    max_num_results: int = Field(default=10, ge=1, le=50)
    filters: (
        Annotated[ComparisonFilter | CompoundFilter, Field(union_mode="left_to_right")] | None
    ) = None
    ranking_options: SearchRanking | None = None

    @model_validator(mode="after")
    def _queries(self) -> SearchBody:
        if isinstance(self.query, list) and not self.query:
            raise ValueError("'query' must hold at least one query")
        return self
