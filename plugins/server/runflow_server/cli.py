"""`runflow serve`: run the local server on a port.

```
runflow serve --host 127.0.0.1 --port 8000 [--db PATH] [--scenario FILE] [--expiry SECONDS]
              [--faults FILE] [--api-key KEY] [--max-body-bytes N] [--max-upload-bytes N]
              [--header-timeout SECONDS] [--keep-alive SECONDS] [--limit-concurrency N]
              [--backlog N]
python -m runflow_server --port 8000
```
The connection bounds (`serving.py`): request headers must be complete within
`--header-timeout` seconds of a connection's start or of the previous response (10); idle
keep-alive connections close after `--keep-alive` seconds (5); at most `--limit-concurrency`
connections and requests at once, then 503s (1024; 0 for no limit); `--backlog` connections
may wait to be accepted (2048).
Registered as the `serve` entry point of the `runflow.commands` group; the core CLI hands it the
arguments after `serve`.
"""

from __future__ import annotations

import argparse
import sys

import uvicorn

from .app import create_app
from .faults import FaultConfigError
from .middleware import MAX_BODY_BYTES, MAX_UPLOAD_BYTES
from .scenario import ScenarioError
from .serving import BACKLOG, HEADER_TIMEOUT, KEEP_ALIVE, LIMIT_CONCURRENCY, server_options

__all__ = ["serve_command"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="runflow serve", description="Run the local Assistants-compatible run server."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="TCP port (8000; 0 picks one)")
    parser.add_argument("--db", help="SQLite file to keep state in (default: in memory)")
    parser.add_argument("--scenario", help="scenario file (YAML or JSON) for the scripted brain")
    parser.add_argument(
        "--api-key", help="require this key (Bearer or api-key header); off by default"
    )
    parser.add_argument("--faults", help="fault injection rules (YAML or JSON), off by default")
    parser.add_argument(
        "--expiry", type=float, default=600, help="seconds until a run expires (600)"
    )
    parser.add_argument(
        "--max-body-bytes",
        type=_positive,
        default=MAX_BODY_BYTES,
        help=f"largest request body accepted, in bytes ({MAX_BODY_BYTES}: 16 MiB)",
    )
    parser.add_argument(
        "--max-upload-bytes",
        type=_positive,
        default=MAX_UPLOAD_BYTES,
        help=f"largest multipart upload to /files, in bytes ({MAX_UPLOAD_BYTES}: 513 MiB)",
    )
    _connection_flags(parser)
    return parser


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--header-timeout",
        type=_seconds,
        default=HEADER_TIMEOUT,
        help="seconds a client has to send a request's headers, from the connection's start or"
        f" the previous response, before a 408 and a close ({HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--keep-alive",
        type=_positive,
        default=KEEP_ALIVE,
        help=f"seconds an idle keep-alive connection stays open ({KEEP_ALIVE})",
    )
    parser.add_argument(
        "--limit-concurrency",
        type=_count,
        default=LIMIT_CONCURRENCY,
        help=f"connections and requests at once before 503s ({LIMIT_CONCURRENCY}; 0: no limit)",
    )
    parser.add_argument(
        "--backlog",
        type=_positive,
        default=BACKLOG,
        help=f"connections waiting to be accepted ({BACKLOG})",
    )


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _count(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}")
    return int(text)


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def serve_command(argv: list[str]) -> int:
    """Parse `argv` (the arguments after `serve`) and serve until interrupted."""
    args = _parser().parse_args(argv)
    try:
        app = create_app(
            db=args.db,
            scenario=args.scenario,
            run_expiry_seconds=args.expiry,
            faults=args.faults,
            api_key=args.api_key,
            max_body_bytes=args.max_body_bytes,
            max_upload_bytes=args.max_upload_bytes,
        )
    except (ScenarioError, FaultConfigError) as exc:
        print(f"runflow serve: {exc}", file=sys.stderr)
        return 2
    bounds = server_options(
        header_timeout=args.header_timeout,
        keep_alive=args.keep_alive,
        limit_concurrency=args.limit_concurrency or None,
        backlog=args.backlog,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", **bounds)
    return 0
