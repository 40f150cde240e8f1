"""Browser tests of the playground: the Debian `chromium` binary, driven by Playwright, against
the real server served by uvicorn on 127.0.0.1.

Skipped with the reason when Playwright or chromium is missing (`.ci/run` installs chromium).
The server's SSE responses pass through `PacedStreams`, which hands the browser one event at a
time, a few tens of milliseconds apart, as a slow network would: so a test can see an answer
grow. It paces bytes on the wire; it never waits for a state.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from runflow_server import create_app
from runflow_server.scenario import Scenario
from tests.server.support import serve_in_thread

CHROMIUM = os.environ.get("RUNFLOW_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EVENT_GAP_SECONDS = 0.06
API_KEY = "open-sesame"

WEATHER = Scenario.model_validate(
    {
        "name": "weather",
        "steps": [
            {"tool_calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
            {"message": "It is {output.get_weather} in Paris today, and a fine day for a walk."},
        ],
    }
)


class PacedStreams:
    """Sends each server-sent event of an SSE response on its own, `gap` seconds apart."""

    def __init__(self, app: ASGIApp, gap: float = EVENT_GAP_SECONDS) -> None:
        self._app = app
        self._gap = gap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        streaming = False

        async def paced(message: Message) -> None:
            nonlocal streaming
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
            if not streaming or message["type"] != "http.response.body":
                await send(message)
                return
            events = [part for part in message.get("body", b"").split(b"\n\n") if part]
            for event in events:
                await anyio.sleep(self._gap)
                await send(
                    {"type": "http.response.body", "body": event + b"\n\n", "more_body": True}
                )
            if not message.get("more_body", False):
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        await self._app(scope, receive, paced)


def _playwright() -> Any:
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install -y chromium; .ci/run does)")
    return sync_api


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = _playwright()
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The server with the weather scenario (and a code-interpreter one when it can run it)."""
    from .code_interpreter import code_interpreter_scenarios

    app = create_app(scenario=WEATHER, scenarios=code_interpreter_scenarios())
    with serve_in_thread(PacedStreams(app)) as url:
        yield url


@pytest.fixture(scope="module")
def keyed_server_url() -> Iterator[str]:
    """A server started with an API key."""
    app = create_app(scenario=WEATHER, api_key=API_KEY)
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture(scope="module")
def painter_url() -> Iterator[str]:
    """A server whose brain runs a (stand-in) code interpreter, then links the file it wrote."""
    from .painter import Librarian, Painter, PlottingBrain

    app = create_app(brain=PlottingBrain(), builtin_tools=[Painter(), Librarian()])
    with serve_in_thread(PacedStreams(app)) as url:
        yield url


@contextmanager
def open_tab(browser: Any, url: str) -> Iterator[Any]:
    """A fresh browser tab (its own storage) on a server, laptop-sized."""
    context = browser.new_context(viewport={"width": 1360, "height": 820}, base_url=url)
    context.set_default_timeout(10_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    with open_tab(browser, server_url) as tab:
        yield tab
