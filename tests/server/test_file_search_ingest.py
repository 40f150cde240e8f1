"""Ingestion: parsing each supported format, refusing the rest, chunking, filters, hybrid."""

from __future__ import annotations

import itertools

import pytest

from runflow.testing import FakeClock
from runflow_server.file_search import OpenAIEmbeddings
from runflow_server.file_search.chunking import chunk_text, count_tokens, token_spans
from runflow_server.file_search.fake import hashed_embeddings_app
from runflow_server.file_search.filters import CompoundFilter, matches
from runflow_server.file_search.parsing import UnreadableFile, extract_text
from runflow_server.file_search.records import AUTO_CHUNKING, Chunking, FileStatus

from .conftest import Server
from .vector_support import docx_bytes, embeddings_client, minimal_pdf, open_search

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        pytest.param("a.txt", b"\xef\xbb\xbfplain words", "plain words", id="txt-bom"),
        pytest.param("a.md", b"# Title\n\nbody", "# Title\n\nbody", id="md"),
        pytest.param("a.py", b"def f():\n    return 1\n", "def f():\n    return 1\n", id="code"),
        pytest.param("a.csv", b"city,temp\nParis,21\n", "city,temp\nParis,21\n", id="csv"),
        pytest.param("a.json", b'{"k": "v"}', '{"k": "v"}', id="json"),
        pytest.param(
            "a.html",
            b"<html><head><style>p{}</style><script>x()</script></head><body><h1>Hi</h1>"
            b"<p>caf&eacute; <b>open</b></p></body></html>",
            "Hi\ncafé open",
            id="html",
        ),
        pytest.param("a.xml", b"<r><a>one</a><b>two</b></r>", "one\ntwo", id="xml"),
    ],
)
def test_text_formats(name: str, data: bytes, expected: str) -> None:
    assert extract_text(name, data) == expected


def test_pdf_and_docx() -> None:
    pdf = extract_text("manual.pdf", minimal_pdf(["Filters last six months.", "Call Ada."]))
    assert "Filters last six months." in pdf and "Call Ada." in pdf
    word = extract_text("memo.docx", docx_bytes(["First point.", "Second point."]))
    assert word.splitlines() == ["First point.", "Second point."]


@pytest.mark.parametrize(
    ("name", "data", "code", "message"),
    [
        pytest.param("x.png", b"\x89PNG", "unsupported_file", "type .png", id="png"),
        pytest.param("noext", b"abc", "unsupported_file", "(no extension)", id="no-extension"),
        pytest.param("x.txt", b"\xff\xfe\xfa", "invalid_file", "not valid UTF-8", id="binary"),
        pytest.param("x.json", b"{nope", "invalid_file", "not valid JSON", id="json"),
        pytest.param("x.pdf", b"not a pdf", "invalid_file", "not a readable PDF", id="pdf"),
        pytest.param("x.docx", b"not a zip", "invalid_file", "Word document", id="docx"),
        pytest.param(
            "x.xml",
            b'<!DOCTYPE r [<!ENTITY a "aaaa">]><r>&a;&a;</r>',
            "invalid_file",
            "DTD",
            id="xml-entities",
        ),
    ],
)
def test_unreadable_files(name: str, data: bytes, code: str, message: str) -> None:
    with pytest.raises(
        UnreadableFile, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as info:
        extract_text(name, data)
    assert info.value.code == code


def test_tokens_cover_the_text_exactly() -> None:
    text = "Descaling (every 200 shots) isn't optional:\n\tuse   citric_acid!! 12345678"
    spans = token_spans(text)
    assert "".join(text[a:b] for a, b in spans) == text
    assert all(end == start for (_, end), (start, _) in itertools.pairwise(spans))
    assert count_tokens("internationalization") == 3  # eight letters a token
    assert count_tokens(" the cat") == 2


def test_auto_chunks_are_800_tokens_overlapping_by_400() -> None:
    text = " ".join(f"word{n % 97}" for n in range(3000))
    chunks = chunk_text(text, AUTO_CHUNKING)
    assert [chunk.tokens for chunk in chunks[:-1]] == [800] * (len(chunks) - 1)
    assert chunks[-1].tokens <= 800
    spans = token_spans(text)
    assert chunks[1].text.startswith(text[spans[400][0] : spans[400][1]])
    assert text.endswith(chunks[-1].text)


def test_static_chunks_without_overlap_tile_the_text() -> None:
    text = "alpha beta gamma delta. " * 200
    chunks = chunk_text(text, Chunking(100, 0))
    assert "".join(chunk.text for chunk in chunks) == text.rstrip()
    assert max(chunk.tokens for chunk in chunks) == 100


def test_filters() -> None:
    rule = CompoundFilter.model_validate(
        {
            "type": "and",
            "filters": [
                {"type": "gte", "key": "year", "value": 2020},
                {"type": "or", "filters": [
                    {"type": "eq", "key": "lang", "value": "en"},
                    {"type": "nin", "key": "tags", "value": ["draft"]},
                ]},
            ],
        }
    )  # fmt: skip
    assert matches(rule, {"year": 2021, "lang": "en"})
    assert not matches(rule, {"year": 2019, "lang": "en"})
    assert not matches(rule, {"year": "2021", "lang": "en"})  # a string is not a number
    assert matches(rule, {"year": 2024, "lang": "fr"})  # no `tags`: nin holds


async def test_failed_files_carry_last_error(server: Server, clock: FakeClock) -> None:
    search = await open_search(server, clock)
    store = await search.client.vector_stores.create(name="mixed")
    image = await search.upload("photo.png", b"\x89PNG\r\n")
    good = await search.upload("doc.pdf", minimal_pdf(["Warranty lasts two years."]))
    batch = await search.client.vector_stores.file_batches.create_and_poll(
        vector_store_id=store.id, file_ids=[image, good]
    )
    assert (batch.file_counts.failed, batch.file_counts.completed) == (1, 1)
    failed = await search.client.vector_stores.files.retrieve(image, vector_store_id=store.id)
    assert failed.status == "failed" and failed.last_error is not None
    assert failed.last_error.code == "unsupported_file" and ".png" in failed.last_error.message
    hits = await search.client.vector_stores.search(store.id, query="warranty")
    assert [hit.file_id for hit in hits.data] == [good]


async def test_restart_resumes_ingestion(
    server: Server, clock: FakeClock, tmp_path: object
) -> None:
    db = f"{tmp_path}/runs.db"
    first = await open_search(server, clock, db=db)
    store = await first.client.vector_stores.create(name="kept")
    file_id = await first.upload("a.txt", "persisted words")
    await first.client.vector_stores.files.create(store.id, file_id=file_id)
    await first.service.aclose()  # the server stops mid-ingestion
    assert first.service.tables.get_file(store.id, file_id).status is FileStatus.IN_PROGRESS  # type: ignore[union-attr]

    second = await open_search(server, clock, db=db)
    await second.client.vector_stores.retrieve(store.id)  # first use resumes the file
    await second.service.wait_idle()
    hits = await second.client.vector_stores.search(store.id, query="persisted")
    assert [hit.file_id for hit in hits.data] == [file_id]


async def test_hybrid_search_fuses_both_rankings(server: Server, clock: FakeClock) -> None:
    endpoint = hashed_embeddings_app()
    embedder = OpenAIEmbeddings(embeddings_client(endpoint), "fake-embedding", batch_size=2)
    search = await open_search(server, clock, embedder)
    store = await search.client.vector_stores.create(name="hybrid")
    texts = ["Boilers need yearly service.", "Radiators bleed air.", "Boilers heat water."]
    for n, text in enumerate(texts):
        file_id = await search.upload(f"{n}.txt", text)
        await search.client.vector_stores.files.create(store.id, file_id=file_id)
    await search.service.wait_idle()
    assert endpoint.state.requests == 3  # one embeddings request per file (one chunk each)

    page = await search.client.vector_stores.search(store.id, query="boilers service")
    assert page.data[0].content[0].text == texts[0]
    assert page.data[0].score == 1.0  # first in both rankings
    only_text = await search.client.vector_stores.search(
        store.id,
        query="boilers service",
        extra_body={
            "ranking_options": {"hybrid_search": {"embedding_weight": 0, "text_weight": 1}}
        },
    )
    assert [hit.content[0].text for hit in only_text.data] == [texts[0], texts[2]]
    assert endpoint.state.requests == 4  # the first search embedded its query, not the second
    strict = await search.client.vector_stores.search(
        store.id, query="boilers service", ranking_options={"score_threshold": 0.99}
    )
    assert [hit.content[0].text for hit in strict.data] == [texts[0]]


async def test_serve_flags_name_an_embeddings_endpoint(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from runflow_server.cli import serve_command
    from runflow_server.file_search.embeddings import embeddings_from

    assert embeddings_from(None, None) is None
    made = embeddings_from("http://127.0.0.1:9/v1", "nomic-embed-text")
    assert made is not None and made.model == "nomic-embed-text"
    assert str(made.client.base_url) == "http://127.0.0.1:9/v1/"
    await made.client.close()
    assert serve_command(["--port", "0", "--embeddings-url", "http://127.0.0.1:9/v1"]) == 2
    assert "--embeddings-url needs --embeddings-model" in capsys.readouterr().err
