"""`create_app`: the local Assistants-compatible run server as a Starlette application.

```python
app = create_app(scenario="weather.yaml", clock=FakeClock())
client = openai.AsyncOpenAI(
    base_url="http://testserver/v1", api_key="test",
    http_client=httpx2.AsyncClient(transport=httpx2.ASGITransport(app=app),
                                   base_url="http://testserver"),
)
```

Nothing here needs the ASGI lifespan to have run: the engine starts its background tasks on
first use. When a lifespan does run (uvicorn), its shutdown cancels them and closes the store.
`app.state.engine` is the `RunEngine`; `await app.state.engine.wait_until_settled()` waits for
runs created without a stream to come to rest.

Deliberate differences from the hosted API (the recordings in `shared/fixtures`):

- messages always carry `status`, `completed_at`, `incomplete_at`, `incomplete_details` (the
  recorded REST bodies omit them; the spec and the SDK's `Message` require them);
- run steps carry both `expires_at` (as recorded) and `expired_at` (as specified);
- a thread created by POST /threads/runs has `tool_resources: {}` (the recording shows
  `{"code_interpreter": {"file_ids": []}}`);
- requests carry no authentication: any API key is accepted.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .clock import Clock, SystemClock
from .engine import RunEngine
from .errors import error_body
from .routes import routes
from .scenario import BrainChooser, Scenario
from .store import Store

__all__ = ["create_app"]


def create_app(
    *,
    db: str | os.PathLike[str] | None = None,
    scenario: Scenario | str | os.PathLike[str] | None = None,
    scenarios: Mapping[str, Scenario] | None = None,
    clock: Clock | None = None,
    run_expiry_seconds: float = 600,
) -> Starlette:
    """The run server.

    Args:
        db: SQLite file to keep everything in; in memory when None.
        scenario: the default scenario of the scripted brain, or a scenario file (whose
            scenarios all become selectable by name); without one, runs use `DefaultBrain`.
        scenarios: more scenarios, selectable by an assistant's `metadata["scenario"]`.
        clock: where time comes from (tests pass a fake one); the system clock by default.
        run_expiry_seconds: how long after creation a run expires.
    """
    store = Store(db)
    engine = RunEngine(
        store,
        clock or SystemClock(),
        BrainChooser.load(scenario, scenarios),
        run_expiry_seconds=run_expiry_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await engine.aclose()
            store.close()

    app = Starlette(
        routes=routes(),
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.engine = engine
    return app


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown URLs and methods, in the API's error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"Invalid URL ({request.method} {request.url.path})"
    return JSONResponse(error_body(message), status_code=status)
