"""Delivering one run's events to every sink of it (see `runflow._events`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from runflow._events import EventCallback, RunEvent, RunSink

__all__ = ["CallbackSink", "Fanout"]

_log = logging.getLogger("runflow")


class Fanout:
    """Every sink of one run, in order; `emit` returns once each has taken the event.

    A sink with an `event_types` attribute (a tuple of event classes) is given only those;
    `wants(kind)` tells whether any sink takes that kind, so an event nobody takes need not
    be made.

    Args:
        sinks: in the order they are to see each event (the journal before the caller's).
        wants_steps: whether run steps are worth a request when they do not stream in.
    """

    def __init__(self, sinks: Sequence[RunSink], *, wants_steps: bool) -> None:
        self._sinks = tuple(sinks)
        self._routes: dict[type, tuple[RunSink, ...]] = {}
        self.wants_steps = wants_steps

    def wants(self, kind: type[RunEvent]) -> bool:
        return bool(self._takers(kind))

    async def emit(self, event: RunEvent) -> None:
        for sink in self._takers(type(event)):
            await sink.emit(event)

    def _takers(self, kind: type) -> tuple[RunSink, ...]:
        takers = self._routes.get(kind)
        if takers is None:
            takers = self._routes[kind] = tuple(sink for sink in self._sinks if _takes(sink, kind))
        return takers


def _takes(sink: RunSink, kind: type) -> bool:
    event_types: tuple[type, ...] | None = getattr(sink, "event_types", None)
    return event_types is None or issubclass(kind, event_types)


class CallbackSink:
    """An `on_event` callback as a sink: one that raises is logged, it never breaks the run."""

    def __init__(self, callback: EventCallback) -> None:
        self._callback = callback

    async def emit(self, event: RunEvent) -> None:
        try:
            self._callback(event)
        except Exception:
            _log.exception("the on_event callback raised on %s", type(event).__name__)
