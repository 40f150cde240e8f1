"""What one execution produced, gathered from the kernel's IOPub messages (pure, no I/O).

The hosted API's shape: `logs` outputs (stdout, stderr, the value of the last expression,
tracebacks, one text in the order they came) and `image` outputs (a PNG each). Text past the
limit is cut with a visible marker, however much the code prints; an image too large to keep
becomes a line of the log.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ExecutionStatus", "ImageOutput", "LogOutput", "OutputCollector", "WrittenFile"]

ExecutionStatus = Literal["ok", "error", "timeout", "died", "limit"]
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@dataclass(frozen=True)
class LogOutput:
    """Text the execution printed or returned."""

    text: str


@dataclass(frozen=True)
class ImageOutput:
    """An image the execution displayed (`plt.show()`, a figure left open, `display(...)`)."""

    png: bytes


@dataclass(frozen=True)
class WrittenFile:
    """A file the execution created or changed under `/mnt/data`.

    Attributes:
        path: its path in the sandbox (`/mnt/data/NAME`).
        content: its bytes after the execution.
    """

    path: str
    content: bytes


@dataclass
class OutputCollector:
    """Folds the IOPub messages of one execution into outputs.

    Attributes:
        max_chars: text kept; what comes after is counted, then reported in one marker.
        max_image_bytes: the largest image kept.
    """

    max_chars: int
    max_image_bytes: int
    outputs: list[LogOutput | ImageOutput] = field(default_factory=list)
    kept_chars: int = 0
    dropped_chars: int = 0
    failed: bool = False
    _text: list[str] = field(default_factory=list)
    _notes: list[str] = field(default_factory=list)

    def add(self, message: dict[str, Any]) -> bool:
        """Take one IOPub message of this execution; True once the kernel is idle again."""
        kind = message["header"]["msg_type"]
        content = message["content"]
        if kind == "status":
            return bool(content.get("execution_state") == "idle")
        if kind == "stream":
            self.text(str(content.get("text", "")))
        elif kind in ("execute_result", "display_data", "update_display_data"):
            self._display(content.get("data", {}))
        elif kind == "error":
            self.failed = True
            self.text(_strip("\n".join(content.get("traceback", []))) + "\n")
        return False

    def text(self, text: str) -> None:
        """Add text to the log, within the limit."""
        room = self.max_chars - self.kept_chars
        kept = text[: max(room, 0)]
        self.kept_chars += len(kept)
        self.dropped_chars += len(text) - len(kept)
        if kept:
            self._text.append(kept)

    def note(self, text: str) -> None:
        """Add a line of the server's own (a limit hit...), outside the text limit."""
        self._notes.append(text if text.endswith("\n") else text + "\n")

    def _display(self, data: dict[str, Any]) -> None:
        png = data.get("image/png")
        if isinstance(png, str):
            try:
                image = base64.b64decode(png, validate=False)
            except (binascii.Error, ValueError):
                image = b""
            if 0 < len(image) <= self.max_image_bytes:
                self._flush()
                self.outputs.append(ImageOutput(image))
                return
            self.text(f"[an image of {len(image)} bytes was not kept: over the limit]\n")
            return
        plain = data.get("text/plain")
        if plain is not None:
            self.text(_strip(str(plain)) + "\n")

    def _flush(self) -> None:
        if self._text:
            self.outputs.append(LogOutput("".join(self._text)))
            self._text = []

    def finish(self) -> list[LogOutput | ImageOutput]:
        """The outputs, with the marker of dropped text at the end of the log."""
        if self.dropped_chars:
            self._text.append(
                f"\n[output truncated: {self.dropped_chars} more characters not shown]\n"
            )
        self._text += self._notes
        self._notes = []
        self._flush()
        return self.outputs


def _strip(text: str) -> str:
    return _ANSI.sub("", text)
