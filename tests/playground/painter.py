"""A built-in code interpreter that stands in for the sandbox: it draws a real PNG and writes a
CSV through the server's file storage, so the engine's built-in path (steps, SSE, image parts,
`sandbox:` links as `file_path` annotations) and the page's rendering of it run for real,
whether or not this machine can run the kernel. A stand-in file search (`Librarian`) answers
with one cited result. The brain calls the one, then the other, then answers with a link to the
CSV and a citation marker.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import AsyncIterator

from runflow_server.brains import (
    BrainEvent,
    BuiltinCall,
    BuiltinContext,
    BuiltinOutcome,
    CallBuiltins,
    Citation,
    TextDelta,
    Turn,
)

CODE = "squares = [n * n for n in range(1, 6)]\nprint(squares)\nplot(squares)"
LOGS = "[1, 4, 9, 16, 25]"
NOTES = "squares-notes.txt"
QUOTE = "The largest of the first five squares is 25."
ANSWER = (
    "Here is the plot. The numbers are in [squares.csv](sandbox:/mnt/data/squares.csv)."
    f" The largest is 25【4:0†{NOTES}】."
)


def png(width: int = 240, height: int = 120) -> bytes:
    """A small PNG: blue bars of growing height, drawn pixel by pixel."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter: none
        for x in range(width):
            bar = x // (width // 5)
            filled = height - y <= (bar + 1) ** 2 * height // 25
            row += bytes((37, 87, 214) if filled else (246, 247, 249))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


class Painter:
    """`type = "code_interpreter"`: answers any code with the logs, a plot and a CSV."""

    type = "code_interpreter"

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        image = context.files.create_file("plot.png", png(), "assistants_output")
        table = context.files.create_file(
            "squares.csv", b"n,square\n1,1\n2,4\n3,9\n4,16\n5,25\n", "assistants_output"
        )
        outputs = [{"type": "logs", "logs": LOGS}, {"type": "image", "image": {"file_id": image}}]
        return BuiltinOutcome(
            details={"input": call.input, "outputs": outputs},
            output=LOGS,
            image_file_ids=(image,),
            sandbox_files={"/mnt/data/squares.csv": table},
        )


class Librarian:
    """`type = "file_search"`: one result, from a notes file it writes, cited as NOTES."""

    type = "file_search"

    async def run(self, call: BuiltinCall, context: BuiltinContext) -> BuiltinOutcome:
        notes = context.files.create_file(NOTES, QUOTE.encode(), "assistants")
        result = {
            "file_id": notes,
            "file_name": NOTES,
            "score": 0.92,
            "content": [{"type": "text", "text": QUOTE}],
        }
        return BuiltinOutcome(
            details={
                "ranking_options": {"ranker": "default_2024_08_21", "score_threshold": 0.0},
                "results": [result],
            },
            output=QUOTE,
            citations=(Citation(file_id=notes, file_name=NOTES, quote=QUOTE),),
        )


class PlottingBrain:
    """Run CODE in the code interpreter, search the notes, then the ANSWER."""

    async def respond(self, turn: Turn) -> AsyncIterator[BrainEvent]:
        if not turn.rounds:
            yield CallBuiltins((BuiltinCall(type="code_interpreter", input=CODE),))
            return
        if len(turn.rounds) == 1:
            yield CallBuiltins((BuiltinCall(type="file_search", queries=("largest square",)),))
            return
        words = ANSWER.split(" ")
        for index, word in enumerate(words):
            yield TextDelta(word if index == len(words) - 1 else word + " ")
