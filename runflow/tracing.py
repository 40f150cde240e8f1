"""OpenTelemetry spans and metrics for runs (GenAI semantic conventions).

Placeholder until the tracing work lands: `default_instrumentation()` records nothing yet.
"""

from __future__ import annotations

from runflow.instrumentation import Instrumentation, NoInstrumentation

__all__ = ["default_instrumentation"]


def default_instrumentation() -> Instrumentation:
    """The instrumentation a Runner uses when none is given."""
    return NoInstrumentation()
