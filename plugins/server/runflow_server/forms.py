"""Multipart uploads, parsed with python-multipart directly.

Starlette's `request.form()` keeps each file part in a `SpooledTemporaryFile` and leaks it
when the body ends inside that part (no closing boundary): the part never reaches the form, so
nothing closes it. Here a part's bytes are gathered in memory as they arrive (the request's
size is capped by `middleware.BodyLimit` before any of it is read), so there is no file to
leak, and a body that stops before its closing boundary is refused with a 400, as is one that
is not `multipart/form-data` with a boundary, a part without a name, a field (a part without a
`filename`) over 1 MiB, or more than 1,000 parts. A part named in `file_fields` is a file even
without a `filename` (azure-ai-agents sends a stream's bytes so, with the name in a field of
its own); its `filename` is then "".
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from .errors import bad_request

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

__all__ = ["FormItem", "UploadedFile", "read_form"]

MAX_FIELD_BYTES = 1024 * 1024
MAX_PARTS = 1000


@dataclass(frozen=True)
class UploadedFile:
    """A file part: its `filename` and its bytes."""

    filename: str
    content: bytes


FormItem = tuple[str, str | UploadedFile]


async def read_form(request: Request, *, file_fields: tuple[str, ...] = ()) -> list[FormItem]:
    """The parts of a `multipart/form-data` body, in order; a 400 `APIError` if it is not one."""
    media_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise bad_request("The request body must be multipart/form-data.")
    form = _Form(_charset(options.get(b"charset")), file_fields)
    try:
        parser = MultipartParser(boundary, form.callbacks())
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise bad_request("The request body is not valid multipart/form-data.") from exc
    if not form.ended:
        raise bad_request(
            "The multipart/form-data body ends before its closing boundary: it was cut short."
        )
    return form.items


def _charset(value: bytes | None) -> str:
    try:
        return codecs.lookup((value or b"utf-8").decode("latin-1")).name
    except LookupError:
        return "latin-1"


def _decode(data: bytes, charset: str) -> str:
    try:
        return data.decode(charset)
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    filename: str | None = None
    data: bytearray = field(default_factory=bytearray)


class _Form:
    """The parser's callbacks, building `items`; `ended` once the closing boundary is read."""

    def __init__(self, charset: str, file_fields: tuple[str, ...]) -> None:
        self.charset = charset
        self._file_fields = file_fields
        self.items: list[FormItem] = []
        self.ended = False
        self._part = _Part()
        self._parts = 0
        self._header_name = b""
        self._header_value = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value_data,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end_part,
            "on_end": self._end,
        }

    def _begin(self) -> None:
        self._parts += 1
        if self._parts > MAX_PARTS:
            raise bad_request(f"Too many parts in the form: at most {MAX_PARTS}.")
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._part.headers[self._header_name.lower()] = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        disposition = self._part.headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        if b"name" not in options:
            raise bad_request('Every part of the form needs a Content-Disposition "name".')
        self._part.name = _decode(options[b"name"], self.charset)
        if b"filename" in options:
            self._part.filename = _decode(options[b"filename"], self.charset)
        elif self._part.name in self._file_fields:
            self._part.filename = ""

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        part.data += data[start:end]
        if part.filename is None and len(part.data) > MAX_FIELD_BYTES:
            raise bad_request(
                f"The form field '{part.name}' is too large: at most {MAX_FIELD_BYTES} bytes.",
                param=part.name,
            )

    def _end_part(self) -> None:
        part = self._part
        value: str | UploadedFile = (
            _decode(bytes(part.data), self.charset)
            if part.filename is None
            else UploadedFile(part.filename, bytes(part.data))
        )
        self.items.append((part.name, value))

    def _end(self) -> None:
        self.ended = True
