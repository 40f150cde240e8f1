"""What the default brain does with code interpreter: run the user's fenced Python block.

- When the run has the `code_interpreter` tool and the latest user message holds a fenced
  Python block (```` ```python ```` or ```` ```py ````), the code of the first one runs.
- `tool_choice={"type": "code_interpreter"}` (or `"required"` when the run has no function
  to call) forces a call: the fenced block, else the message itself when it is valid Python,
  else a line printing it.
- The answer after the call quotes its output.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import Any

from .protocol import BuiltinCall, CallBuiltins, Fail, Reply, ToolResult, Turn

__all__ = ["code_answer", "code_call", "fenced_python"]

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\r?\n(.*?)```", re.DOTALL | re.IGNORECASE)
_CODE = "code_interpreter"


def fenced_python(text: str) -> str | None:
    """The code of the first fenced Python block of `text`, if any."""
    match = _FENCE.search(text)
    return match.group(1) if match else None


def code_call(turn: Turn, *, has_functions: bool) -> CallBuiltins | Fail | None:
    """The code interpreter call the default brain makes for this turn, if any."""
    run = turn.run
    has_code = any(tool.get("type") == _CODE for tool in run["tools"])
    choice = run["tool_choice"]
    forced = _names_code(choice) or (choice == "required" and not has_functions and has_code)
    if forced and not has_code:
        return Fail("invalid_prompt", "tool_choice is code_interpreter but the run lacks it")
    if not has_code or choice == "none":
        return None
    message = turn.last_user_message
    code = fenced_python(message)
    if code is None and not forced:
        return None
    source = code if code is not None else _as_code(message)
    return CallBuiltins((BuiltinCall("code_interpreter", source),))


def code_answer(results: list[ToolResult]) -> Reply | None:
    """The answer to a round holding a code interpreter call: its output, quoted."""
    outputs = [result.output for result in results if result.name == _CODE]
    if not outputs:
        return None
    text = outputs[-1].rstrip("\n") or "(no output)"
    return Reply(f"I ran the code. Its output:\n\n```\n{text}\n```")


def _names_code(choice: Any) -> bool:
    return isinstance(choice, Mapping) and choice.get("type") == _CODE


def _as_code(message: str) -> str:
    """The message itself when it parses as Python, else a line that prints it."""
    try:
        ast.parse(message)
    except SyntaxError:
        return f"print({message!r})"
    return message
