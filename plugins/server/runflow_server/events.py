"""Publish and subscribe to a run's events.

The run engine publishes every event of a run (`thread.run.queued`, `thread.message.delta`...)
whether anyone listens or not; an SSE response subscribes to the run before the change that
starts its stream, so it misses nothing. A subscriber that goes away only closes its queue: the
run goes on. Each subscription has the view of the request that made it (`views.View`): a
published record is rendered once per view listening (`to_wire(view)`), a delta in v1 by
`views.delta_v1`.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from .views import View, delta_v1

__all__ = ["Event", "EventBus", "Subscription"]


class Wired(Protocol):
    """A record (`records.py`)."""

    def to_wire(self, view: View = "v2") -> dict[str, Any]: ...


@dataclass(frozen=True)
class Event:
    """One server-sent event; `data` is already JSON, a snapshot taken when it was published."""

    name: str
    data: str

    @classmethod
    def of(cls, name: str, obj: dict[str, Any] | Wired, view: View = "v2") -> Event:
        if not isinstance(obj, dict):
            obj = obj.to_wire(view)
        elif view == "v1":
            obj = delta_v1(obj)
        return cls(name, json.dumps(obj, separators=(",", ":")))


class Subscription:
    """The events of one run, in the order they were published."""

    def __init__(self, bus: EventBus, run_id: str, view: View) -> None:
        self._bus = bus
        self.run_id = run_id
        self.view = view
        self._queue: deque[Event] = deque()
        self._arrived: anyio.Event | None = None

    def put(self, event: Event) -> None:
        self._queue.append(event)
        if self._arrived is not None:
            self._arrived.set()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            while self._queue:
                yield self._queue.popleft()
            self._arrived = anyio.Event()
            await self._arrived.wait()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._subscribers: defaultdict[str, list[Subscription]] = defaultdict(list)

    def subscribe(self, run_id: str, view: View = "v2") -> Subscription:
        subscription = Subscription(self, run_id, view)
        self._subscribers[run_id].append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        listeners = self._subscribers.get(subscription.run_id, [])
        if subscription in listeners:
            listeners.remove(subscription)
        if not listeners:
            self._subscribers.pop(subscription.run_id, None)

    def publish(self, run_id: str, name: str, obj: dict[str, Any] | Wired) -> None:
        listeners = self._subscribers.get(run_id)
        if not listeners:
            return
        events: dict[View, Event] = {}
        for subscription in listeners:
            view = subscription.view
            event = events.get(view) or events.setdefault(view, Event.of(name, obj, view))
            subscription.put(event)
