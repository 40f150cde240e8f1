"""Image files as data URLs for the model."""

from __future__ import annotations

import base64

import pytest

from runflow_server.model.images import MAX_IMAGE_BYTES, image_data_url, image_source

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


@pytest.mark.parametrize(
    ("data", "media_type"),
    [
        pytest.param(PNG, "image/png", id="png"),
        pytest.param(b"\xff\xd8\xff\xe0rest", "image/jpeg", id="jpeg"),
        pytest.param(b"GIF89a....", "image/gif", id="gif"),
        pytest.param(b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp", id="webp"),
    ],
)
def test_images_become_data_urls_of_their_own_type(data: bytes, media_type: str) -> None:
    url = image_data_url(data)
    assert url == f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_what_is_no_image_or_too_large_is_not_sent() -> None:
    assert image_data_url(b"%PDF-1.7") is None
    assert image_data_url(PNG + b"\x00" * MAX_IMAGE_BYTES) is None


def test_a_source_reads_files_by_id() -> None:
    files = {"file-img": PNG, "file-txt": b"hello"}
    source = image_source(files.get)
    assert (source("file-img") or "").startswith("data:image/png;base64,")
    assert source("file-txt") is None
    assert source("file-missing") is None

    def storage(file_id: str) -> bytes:  # the server's FileStorage.read
        return files[file_id]

    assert image_source(storage)("file-missing") is None
