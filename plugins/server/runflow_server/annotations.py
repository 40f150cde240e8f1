"""Annotations of a completed assistant message, from the outcomes of the run's built-in calls.

- `sandbox:/mnt/data/NAME` (a link to a file the code interpreter wrote) becomes a `file_path`
  annotation when the run's built-in calls produced that file;
- `【i:j†source】` (a file search citation marker) becomes a `file_citation` annotation with the
  cited file and `quote`: `j` numbers the run's citations in the order the calls returned them
  (counting from 0, across calls); when the `j`-th one is not named `source`, the first citation
  named `source` is taken. A marker that matches nothing stays plain text.

Indexes are in characters of the message's text, as the hosted API's are.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .brains import Citation

__all__ = ["annotate"]

JSON = dict[str, Any]

_SANDBOX = re.compile(r"sandbox:(/mnt/data/[^\s)\]\"'<>]+)")
_MARKER = re.compile(r"【(\d+):(\d+)†([^】]*)】")


def annotate(
    text: str, sandbox_files: Mapping[str, str], citations: Sequence[Citation]
) -> list[JSON]:
    """The annotations of `text`, in the order they appear."""
    found: list[JSON] = []
    for match in _SANDBOX.finditer(text):
        file_id = sandbox_files.get(match.group(1))
        if file_id is not None:
            found.append(_annotation(match, "file_path", {"file_id": file_id}))
    for match in _MARKER.finditer(text):
        cited = _cited(int(match.group(2)), match.group(3), citations)
        if cited is not None:
            body = {"file_id": cited.file_id, "quote": cited.quote}
            found.append(_annotation(match, "file_citation", body))
    return sorted(found, key=lambda annotation: annotation["start_index"])


def _cited(index: int, source: str, citations: Sequence[Citation]) -> Citation | None:
    if index < len(citations) and citations[index].file_name == source:
        return citations[index]
    named = [citation for citation in citations if citation.file_name == source]
    if named:
        return named[0]
    return citations[index] if index < len(citations) and not source else None


def _annotation(match: re.Match[str], kind: str, body: JSON) -> JSON:
    return {
        "type": kind,
        "text": match.group(0),
        "start_index": match.start(),
        "end_index": match.end(),
        kind: body,
    }
