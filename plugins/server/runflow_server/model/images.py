"""An `image_file` part's bytes as a URL a chat model takes: a base64 `data:` URL.

`image_source(read)` turns a file reader (file id -> bytes) into the
`ImageSource` the mapping asks; the type is read from the bytes themselves (PNG, JPEG, GIF,
WEBP, the formats vision models take), so a file that is no image is not sent as one.
"""

from __future__ import annotations

import base64
from collections.abc import Callable

from .mapping import ImageSource

__all__ = ["MAX_IMAGE_BYTES", "image_data_url", "image_source"]

MAX_IMAGE_BYTES = 20 * 1024 * 1024  # the hosted chat API's limit for one image


def _media_type(data: bytes) -> str | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_data_url(data: bytes) -> str | None:
    """A `data:` URL of an image; None for bytes that are no image, or too large a one."""
    media_type = _media_type(data)
    if media_type is None or len(data) > MAX_IMAGE_BYTES:
        return None
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def image_source(read: Callable[[str], bytes | None]) -> ImageSource:
    """The mapping's `ImageSource` over a reader of file bytes (the server's
    `FileStorage.read`: KeyError, or None, for a file it does not have)."""

    def source(file_id: str) -> str | None:
        try:
            data = read(file_id)
        except KeyError:
            return None
        return None if data is None else image_data_url(data)

    return source
