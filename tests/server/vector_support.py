"""Shared by the file search tests: a strict client on a server whose `FileSearch` is known."""

from __future__ import annotations

from dataclasses import dataclass

import httpx2
import openai
from starlette.applications import Starlette

from runflow.testing import FakeClock
from runflow_server.file_search import Embedder, FileSearch

from .conftest import Server


@dataclass
class Search:
    """The app, a strict client (the SDK validates every response), the file search service."""

    app: Starlette
    client: openai.AsyncOpenAI
    service: FileSearch

    async def upload(self, name: str, content: str | bytes) -> str:
        data = content.encode() if isinstance(content, str) else content
        uploaded = await self.client.files.create(file=(name, data), purpose="assistants")
        return uploaded.id


async def open_search(
    server: Server, clock: FakeClock, embedder: Embedder | None = None, **options: object
) -> Search:
    app, _, http = await server.open(clock=clock, file_search_embeddings=embedder, **options)
    service: FileSearch = app.state.file_search
    client = openai.AsyncOpenAI(
        base_url="http://testserver/v1",
        api_key="test",
        http_client=http,
        max_retries=0,
        _strict_response_validation=True,
    )
    return Search(app, client, service)


def embeddings_client(app: Starlette) -> openai.AsyncOpenAI:
    """A client for an embeddings app in this process."""
    http = httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app), base_url="http://emb")
    return openai.AsyncOpenAI(base_url="http://emb/v1", api_key="x", http_client=http)


def minimal_pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` in Helvetica (written by hand: no PDF writer needed)."""
    text = " ".join(f"({line}) Tj T*" for line in lines)
    stream = f"BT /F1 12 Tf 14 TL 72 720 Td {text} ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def docx_bytes(paragraphs: list[str]) -> bytes:
    """A Word document with these paragraphs, written by python-docx."""
    import io

    import docx

    document = docx.Document()
    for paragraph in paragraphs:
        document.add_paragraph(paragraph)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()
