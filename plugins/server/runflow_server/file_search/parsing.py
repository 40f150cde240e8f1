"""Text out of an uploaded file, by its extension, as the file search docs' table lists them.

Plain text formats (code, txt, md, csv, json...) are decoded as UTF-8 (a byte-order mark is
honoured; invalid bytes make the file `invalid_file`); html and xml lose their markup; pdf
goes through `pypdf`, docx through `python-docx`. Anything else is refused with an
`unsupported_file` error naming the extension and what is supported.
"""

from __future__ import annotations

import io
import json
import os
from html.parser import HTMLParser
from xml.etree import ElementTree

__all__ = ["SUPPORTED", "UnreadableFile", "extract_text"]

_PLAIN = frozenset(
    {
        *(".c", ".cpp", ".cs", ".css", ".go", ".java", ".js", ".ts", ".sh", ".php", ".py"),
        *(".rb", ".tex", ".txt", ".md", ".csv", ".json", ".jsonl", ".yaml", ".yml", ".toml"),
        *(".ini", ".rst", ".sql", ".rs", ".kt", ".swift"),
    }
)
SUPPORTED = tuple(sorted(_PLAIN | {".html", ".htm", ".xml", ".pdf", ".docx"}))


class UnreadableFile(Exception):
    """A file no text can be had from; `code` is `unsupported_file` or `invalid_file`."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def extract_text(filename: str, data: bytes) -> str:
    """The text of a file, from its name's extension.

    Raises:
        UnreadableFile: the type is not supported, or the file is not what its name says.
    """
    extension = os.path.splitext(filename)[1].lower()
    if extension in _PLAIN:
        text = _decode(filename, data)
        return _json_text(filename, text) if extension == ".json" else text
    if extension in (".html", ".htm"):
        return _html_text(_decode(filename, data))
    if extension == ".xml":
        return _xml_text(filename, data)
    if extension == ".pdf":
        return _pdf_text(filename, data)
    if extension == ".docx":
        return _docx_text(filename, data)
    shown = extension or "(no extension)"
    raise UnreadableFile(
        "unsupported_file",
        f"The file type {shown} of {filename!r} is not supported for file search. Supported"
        f" types: {', '.join(SUPPORTED)}.",
    )


def _decode(filename: str, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            "invalid_file", f"{filename!r} is not valid UTF-8 text (byte {exc.start})."
        ) from exc


def _json_text(filename: str, text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        raise UnreadableFile("invalid_file", f"{filename!r} is not valid JSON: {exc}") from exc
    return text


class _TextOnly(HTMLParser):
    """Collects an HTML page's text, leaving out scripts and styles; blocks end a line."""

    _SKIPPED = frozenset({"script", "style", "template", "noscript"})
    _BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED and self._skipping:
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _xml_text(filename: str, data: bytes) -> str:
    if b"<!DOCTYPE" in data[:4096].upper() or b"<!ENTITY" in data.upper():
        raise UnreadableFile("invalid_file", f"{filename!r}: XML with a DTD is not accepted.")
    try:
        root = ElementTree.fromstring(data)
    except ElementTree.ParseError as exc:
        raise UnreadableFile("invalid_file", f"{filename!r} is not valid XML: {exc}") from exc
    return "\n".join(text.strip() for text in root.itertext() if text.strip())


def _pdf_text(filename: str, data: bytes) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise UnreadableFile("invalid_file", f"{filename!r} is an encrypted PDF.")
        return "\n\n".join(page.extract_text() for page in reader.pages)
    except (PyPdfError, ValueError, KeyError, OSError) as exc:
        raise UnreadableFile("invalid_file", f"{filename!r} is not a readable PDF: {exc}") from exc


def _docx_text(filename: str, data: bytes) -> str:
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise UnreadableFile(
            "invalid_file", f"{filename!r} is not a readable Word document: {exc}"
        ) from exc
    paragraphs = [paragraph.text for paragraph in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append("\t".join(cell.text for cell in row.cells))
    return "\n".join(paragraphs)
