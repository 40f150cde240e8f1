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
- without `api_key`, requests carry no authentication: any API key is accepted.

The same routes are mounted under `/v1` (OpenAI), `/openai` (Azure OpenAI: an `api-version`
query is required) and `/api/projects/{project}` (Foundry). Around them, from the outside in:
the fault injector (`faults.py`), then the request log, the API-key check and the body size caps
(`middleware.py`).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount
from starlette.types import ASGIApp

from .brains import Brain, BuiltinTool, DecidingBrain
from .clock import Clock, SystemClock
from .engine import RunEngine
from .errors import error_body
from .faults import FaultConfig, FaultInjector, load_faults
from .foundry import foundry_routes
from .middleware import (
    MAX_BODY_BYTES,
    MAX_UPLOAD_BYTES,
    ApiKeyAuth,
    AzureApiVersion,
    BodyLimit,
    FoundryApiVersion,
    RequestLog,
)
from .routes import routes
from .scenario import BrainChooser, Scenario
from .store import Store
from .views import Views

__all__ = ["create_app"]


def create_app(
    *,
    db: str | os.PathLike[str] | None = None,
    scenario: Scenario | str | os.PathLike[str] | None = None,
    scenarios: Mapping[str, Scenario] | None = None,
    clock: Clock | None = None,
    run_expiry_seconds: float = 600,
    faults: FaultConfig | str | os.PathLike[str] | None = None,
    brain: Brain | DecidingBrain | None = None,
    builtin_tools: Sequence[BuiltinTool] = (),
    api_key: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> Starlette:
    """The run server.

    Args:
        db: SQLite file to keep everything in; in memory when None.
        scenario: the default scenario of the scripted brain, or a scenario file (whose
            scenarios all become selectable by name); without one, runs use `DefaultBrain`.
        scenarios: more scenarios, selectable by an assistant's `metadata["scenario"]`.
        clock: where time comes from (tests pass a fake one); the system clock by default.
        run_expiry_seconds: how long after creation a run expires.
        faults: faults to inject (`faults.py`), or a YAML / JSON file of them; none by default.
            `app.state.faults` may be replaced at any time; `app.state.fault_counts` counts
            the faults injected.
        brain: a brain that decides every run, whatever the scenarios say (a streaming
            `Brain` or an older `decide()` one).
        builtin_tools: the tools the server runs itself (code interpreter, file search),
            found by their `type` when a brain calls them; none by default.
        api_key: when set, every request must carry it (`Authorization: Bearer` or `api-key`).
        max_body_bytes: the largest request body accepted (16 MiB); a larger one is a 413.
        max_upload_bytes: the same for a multipart upload to `/files` (513 MiB: a 512 MiB file,
            the hosted API's limit, and the rest of the form).
    """
    if max_body_bytes < 1 or max_upload_bytes < 1:
        raise ValueError("max_body_bytes and max_upload_bytes must be positive")
    store = Store(db)
    engine = RunEngine(
        store,
        clock or SystemClock(),
        BrainChooser.load(scenario, scenarios, override=brain),
        run_expiry_seconds=run_expiry_seconds,
        builtin_tools=builtin_tools,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine.start()
        try:
            yield
        finally:
            await engine.aclose()
            store.close()

    api = routes()
    middleware = [Middleware(RequestLog)]
    if api_key is not None:
        middleware.append(Middleware(ApiKeyAuth, api_key=api_key))
    middleware.append(
        Middleware(BodyLimit, max_body_bytes=max_body_bytes, max_upload_bytes=max_upload_bytes)
    )
    middleware.append(Middleware(Views))
    app = _RunServer(
        routes=[
            Mount("/v1", routes=api),
            Mount("/openai", routes=api, middleware=[Middleware(AzureApiVersion)]),
            Mount(
                "/api/projects/{project}",
                routes=foundry_routes() + api,
                middleware=[Middleware(FoundryApiVersion)],
            ),
        ],
        middleware=middleware,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
    )
    app.state.engine = engine
    app.state.faults = load_faults(faults)
    app.state.fault_counts = Counter()
    return app


class _RunServer(Starlette):
    """Starlette with the fault injector outside everything, where it sees the raw connection."""

    def build_middleware_stack(self) -> ASGIApp:
        return FaultInjector(super().build_middleware_stack(), self.state)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Unknown URLs and methods, in the API's error shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = f"Invalid URL ({request.method} {request.url.path})"
    return JSONResponse(error_body(message), status_code=status)
