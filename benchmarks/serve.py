"""The benchmark server process: the run server (or a bare Starlette app) behind a `Probe`.

    python -m benchmarks.serve --port 8123 --scenarios scenarios.json
    python -m benchmarks.serve --port 8124 --bare

`scenarios.json` maps scenario names to scenarios (an assistant picks one with
`metadata={"scenario": name}`). `--bare` serves one JSON endpoint, `GET /ping`: the floor of any
Python ASGI server, to price the run server's requests against. Both answer `/_bench/stats`.
Both are served as `runflow serve` serves: uvicorn with `runflow_server.serving.server_options()`.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from benchmarks.probe import Probe
from runflow_server import Scenario, create_app
from runflow_server.serving import server_options

__all__ = ["bare_app", "main", "run_server_app"]


def run_server_app(scenarios: dict[str, dict[str, object]]) -> Starlette:
    """The run server with these scenarios loaded, selectable by assistant metadata."""
    loaded = {name: Scenario.model_validate(body) for name, body in scenarios.items()}
    return create_app(scenarios=loaded)


def bare_app() -> Starlette:
    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/ping", ping)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--scenarios", type=Path, help="JSON file: scenario name -> scenario")
    parser.add_argument("--bare", action="store_true", help="serve the bare Starlette app")
    parser.add_argument(
        "--unlimited",
        action="store_true",
        help="no limit on concurrent connections, the longest listen backlog (the scale probe)",
    )
    args = parser.parse_args(argv)
    if args.bare:
        probe = Probe(bare_app(), record=False)
    else:
        scenarios = json.loads(args.scenarios.read_text()) if args.scenarios else {}
        probe = Probe(run_server_app(scenarios))
    uvicorn.run(
        probe,
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        **(
            server_options(limit_concurrency=None, backlog=8192)
            if args.unlimited
            else server_options()
        ),
    )


if __name__ == "__main__":
    main()
