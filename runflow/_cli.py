"""The `runflow` command.

    runflow demo [--otlp URL]   one tool-calling run end to end on the in-process local server,
                                its span tree printed (and sent to an OTLP/HTTP endpoint)
    runflow serve ...           the local run server over HTTP (from the runflow-server plugin)

Commands other than the built-in ones come from plugins: the entry points of the group
`runflow.commands`, each a function taking the remaining arguments and returning an exit code.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from functools import partial
from importlib.metadata import entry_points

import anyio

__all__ = ["main"]

PluginCommand = Callable[[list[str]], int]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    plugins = {point.name: point for point in entry_points(group="runflow.commands")}
    if args and args[0] in plugins:
        command: PluginCommand = plugins[args[0]].load()
        return command(args[1:])
    parser = _parser(sorted(plugins))
    parsed = parser.parse_args(args)
    if parsed.command == "demo":
        from runflow._demo import run_demo

        return anyio.run(partial(run_demo, otlp=parsed.otlp))
    if parsed.command is None:
        parser.print_help()
        return 0
    return _missing_plugin(parsed.command)


def _parser(plugin_names: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="runflow", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = commands.add_parser("demo", help="run a tool-calling run end to end, offline")
    demo.add_argument(
        "--otlp",
        metavar="URL",
        help="also send the run's spans to this OTLP/HTTP endpoint, e.g. http://127.0.0.1:6006 "
        "(default: $OTEL_EXPORTER_OTLP_ENDPOINT)",
    )
    for name in ("serve", *plugin_names):
        if name not in commands.choices:
            commands.add_parser(name, help=f"provided by a plugin ({name})", add_help=False)
    return parser


def _missing_plugin(command: str) -> int:
    print(
        f"runflow {command}: this command comes from a plugin that is not installed "
        f"(for `serve`: pip install runflow-server)",
        file=sys.stderr,
    )
    return 2
