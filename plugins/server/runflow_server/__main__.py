"""`python -m runflow_server --port 8000`: the same as `runflow serve`."""

import sys

from .cli import serve_command

raise SystemExit(serve_command(sys.argv[1:]))
