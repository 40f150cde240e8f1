"""The playground's mount: where the page is, that it needs no key (its API calls do), the flag."""

from __future__ import annotations

import httpx2
import pytest
from starlette.applications import Starlette

from runflow_server import create_app
from runflow_server.cli import _parser
from runflow_server.playground import STATIC


async def _get(app: Starlette, method: str, path: str) -> httpx2.Response:
    transport = httpx2.ASGITransport(app=app)
    async with httpx2.AsyncClient(transport=transport, base_url="http://testserver") as http:
        return await http.request(method, path)


@pytest.mark.anyio
async def test_the_root_redirects_to_the_page_and_its_modules_are_javascript() -> None:
    app = create_app()
    root = await _get(app, "GET", "/")
    assert root.status_code == 307
    assert root.headers["location"] == "/playground/"
    page = await _get(app, "GET", "/playground/")
    assert page.status_code == 200
    assert "<title>runflow playground</title>" in page.text
    for module in sorted((STATIC / "js").glob("*.js")):
        answer = await _get(app, "GET", f"/playground/js/{module.name}")
        assert answer.status_code == 200
        assert "javascript" in answer.headers["content-type"]
    await app.state.engine.aclose()


@pytest.mark.anyio
async def test_with_an_api_key_the_page_is_public_and_the_api_is_not() -> None:
    app = create_app(api_key="k")
    assert (await _get(app, "GET", "/playground/")).status_code == 200
    assert (await _get(app, "GET", "/playground/style.css")).status_code == 200
    assert (await _get(app, "POST", "/playground/")).status_code == 401
    refused = await _get(app, "GET", "/v1/assistants")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "invalid_api_key"
    await app.state.engine.aclose()


@pytest.mark.anyio
async def test_without_the_playground_nothing_is_served_and_the_key_guards_everything() -> None:
    app = create_app(playground=False, api_key="k")
    assert (await _get(app, "GET", "/playground/")).status_code == 401
    open_app = create_app(playground=False)
    missing = await _get(open_app, "GET", "/")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == "Invalid URL (GET /)"
    assert _parser().parse_args(["--no-playground"]).no_playground
    assert not _parser().parse_args([]).no_playground
    await app.state.engine.aclose()
    await open_app.state.engine.aclose()
