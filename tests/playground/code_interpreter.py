"""Whether this server can run code-interpreter calls, asked of the server itself.

The capability is the scripted brain's: a scenario with a `code_interpreter` step loads only on a
server that has the built-in tool (the step holds the code to run:
`{"code_interpreter": {"code": ...}}`). Without it, the image test is skipped and says so.
"""

from __future__ import annotations

import base64

from pydantic import ValidationError

from runflow_server.scenario import Scenario

from .painter import png

PLOT = (
    "import base64\nfrom IPython.display import Image, display\n"
    f"display(Image(data=base64.b64decode({base64.b64encode(png()).decode()!r})))\n"
    "print('shown')\n"
)
"""Displays a PNG (drawn by painter.png) with what every kernel has: IPython, no matplotlib."""
STEP_SHAPES = ({"code_interpreter": {"code": PLOT}}, {"code_interpreter": PLOT})

_why_not: list[str] = []


def code_interpreter_scenarios() -> dict[str, Scenario]:
    """{"plot": scenario} when a code-interpreter step loads; {} otherwise (reason kept)."""
    errors = []
    for step in STEP_SHAPES:
        try:
            scenario = Scenario.model_validate(
                {"name": "plot", "steps": [step, {"message": "Here is the plot of the squares."}]}
            )
        except ValidationError as exc:
            errors.append(exc.errors()[0]["msg"])
            continue
        return {"plot": scenario}
    _why_not[:] = [
        "this server has no code interpreter: its scripted brain refuses a `code_interpreter`"
        f" step ({errors[0]})"
    ]
    return {}


def why_not() -> str | None:
    """Why the code-interpreter test cannot run, or None when it can."""
    return _why_not[0] if _why_not else None
