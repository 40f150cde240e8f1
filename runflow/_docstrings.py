"""A small reader for Google-style docstrings: the summary and the `Args:` section."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Docstring", "parse_google_docstring"]

_ARGS_HEADERS = frozenset({"args:", "arguments:", "parameters:", "params:"})
_SECTION_NAMES = (
    "args|arguments|parameters|params|returns|return|yields|yield|raises|except|exceptions"
    "|examples|example|notes|note|warnings|warning|see also|references|todo|attributes"
)
_SECTION_HEADER = re.compile(rf"^(?:{_SECTION_NAMES}):$", re.IGNORECASE)
_PARAM_LINE = re.compile(r"^(\*{0,2}\w+)\s*(?:\([^)]*\))?\s*:\s*(.*)$")


@dataclass(frozen=True)
class Docstring:
    summary: str
    """Everything before the first section, paragraphs joined by a blank line."""
    params: dict[str, str] = field(default_factory=lambda: {})
    """Parameter name -> description, from the `Args:` section."""


def parse_google_docstring(text: str) -> Docstring:
    """Split a cleaned docstring (`inspect.getdoc`) into summary and parameter descriptions."""
    lines = text.splitlines()
    summary_lines: list[str] = []
    index = 0
    while index < len(lines) and not _SECTION_HEADER.match(lines[index].strip()):
        summary_lines.append(lines[index].rstrip())
        index += 1
    params: dict[str, str] = {}
    while index < len(lines):
        header = lines[index].strip().lower()
        index += 1
        section: list[str] = []
        while index < len(lines) and not _is_section_start(lines[index]):
            section.append(lines[index])
            index += 1
        if header in _ARGS_HEADERS:
            params.update(_parse_params(section))
    return Docstring(summary="\n".join(summary_lines).strip(), params=params)


def _is_section_start(line: str) -> bool:
    return not line.startswith((" ", "\t")) and bool(_SECTION_HEADER.match(line.strip()))


def _parse_params(section: list[str]) -> dict[str, str]:
    indented = [line for line in section if line.strip()]
    if not indented:
        return {}
    base_indent = min(len(line) - len(line.lstrip()) for line in indented)
    params: dict[str, str] = {}
    current: str | None = None
    for line in indented:
        indent = len(line) - len(line.lstrip())
        match = _PARAM_LINE.match(line.strip())
        if indent == base_indent and match:
            current = match.group(1).lstrip("*")
            params[current] = match.group(2).strip()
        elif current is not None:
            params[current] = f"{params[current]} {line.strip()}".strip()
    return params
