"""What a file search returns to a brain, and how a brain cites it.

The `file_search` tool's output is one passage per result, each starting a line with its
citation marker: `【0:j†file_name】 text`, passages separated by a blank line (`format_results`).
A brain reads them back with `passages` and cites one by writing its text followed by its
marker (`Passage.cited`); the engine turns the marker into a `file_citation` annotation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["NO_RESULTS", "Passage", "format_results", "marker", "passages"]

NO_RESULTS = "No results found in the attached files."
_STARTS = re.compile(r"(?m)^(【\d+:\d+†[^】\n]*】) ")


def marker(call_index: int, result_index: int, source: str) -> str:
    """The citation marker of a result: `【0:1†notes.txt】`."""
    return f"【{call_index}:{result_index}†{source}】"


@dataclass(frozen=True)
class Passage:
    """One search result as a brain sees it."""

    marker: str
    text: str

    def cited(self, most: int | None = 400) -> str:
        """The passage followed by its marker; with `most`, its whitespace collapsed and cut
        at a word to at most that many characters."""
        if most is None:
            return f"{self.text}{self.marker}"
        text = " ".join(self.text.split())
        if len(text) > most:
            text = text[:most].rsplit(" ", 1)[0] + "..."
        return f"{text}{self.marker}"


def format_results(results: Sequence[tuple[str, str]]) -> str:
    """The tool output for `(file_name, text)` results, in rank order."""
    if not results:
        return NO_RESULTS
    return "\n\n".join(f"{marker(0, n, name)} {text}" for n, (name, text) in enumerate(results))


def passages(output: str) -> list[Passage]:
    """The passages of a file search output, in rank order (none for `NO_RESULTS`)."""
    parts = _STARTS.split(output)
    return [Passage(parts[n], parts[n + 1].strip()) for n in range(1, len(parts) - 1, 2)]
