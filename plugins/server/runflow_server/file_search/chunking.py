"""Token counting and chunking, offline.

`tiktoken` is the real tokenizer of OpenAI's models, but it downloads its BPE tables at run
time, which a server with no internet cannot do. So tokens here are a documented
approximation of `cl100k_base`, built on the same pre-tokenizer idea: a word with its leading
space, a run of up to three digits, a run of up to four punctuation marks, a run of
whitespace. A word longer than eight letters counts as one token per eight letters (BPE splits
long words into pieces of about that size). It was not compared with `cl100k_base` (whose
tables cannot be had offline); expect counts of the same order, not the same numbers.

Every token is a span of the text, so a chunk is an exact slice of the document: the
`max_chunk_size_tokens` tokens starting at a token, the next chunk starting
`max_chunk_size_tokens - chunk_overlap_tokens` tokens later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .parsing import UnreadableFile
from .records import Chunking

__all__ = ["MAX_FILE_TOKENS", "Chunk", "chunk_text", "count_tokens", "token_spans"]

MAX_FILE_TOKENS = 5_000_000  # the hosted API's limit per file

_TOKEN = re.compile(
    r"'(?:[sdmt]|ll|ve|re)"  # English contractions
    r"| ?[^\W\d_]{1,8}"  # a word (or eight letters of one), with its leading space
    r"|\d{1,3}"  # digits, three at a time
    r"| ?(?:[^\s\w]|_){1,4}"  # punctuation and symbols, four at a time
    r"|\s+",  # whitespace
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Chunk:
    """One chunk of a document: its position, text and token count."""

    position: int
    text: str
    tokens: int


def token_spans(text: str) -> list[tuple[int, int]]:
    """The `(start, end)` character span of every token of `text`, in order."""
    return [match.span() for match in _TOKEN.finditer(text)]


def count_tokens(text: str) -> int:
    """The approximate number of tokens of `text`."""
    return sum(1 for _ in _TOKEN.finditer(text))


def chunk_text(text: str, strategy: Chunking) -> list[Chunk]:
    """`text` cut into overlapping chunks of at most `strategy.max_chunk_size_tokens` tokens.

    Chunks that would hold only whitespace are left out.

    Raises:
        UnreadableFile: the text has more than `MAX_FILE_TOKENS` tokens (`invalid_file`).
    """
    spans = token_spans(text)
    if len(spans) > MAX_FILE_TOKENS:
        raise UnreadableFile(
            "invalid_file",
            f"The file has {len(spans):,} tokens; at most {MAX_FILE_TOKENS:,} are supported.",
        )
    size = strategy.max_chunk_size_tokens
    step = size - strategy.chunk_overlap_tokens
    chunks: list[Chunk] = []
    start = 0
    while start < len(spans):
        window = spans[start : start + size]
        piece = text[window[0][0] : window[-1][1]]
        if piece.strip():
            chunks.append(Chunk(len(chunks), piece, len(window)))
        if start + size >= len(spans):
            break
        start += step
    return chunks
