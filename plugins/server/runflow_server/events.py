"""Publish and subscribe to a run's events.

The run engine publishes every event of a run (`thread.run.queued`, `thread.message.delta`...)
whether anyone listens or not; an SSE response subscribes to the run before the change that
starts its stream, so it misses nothing. A subscriber that goes away only closes its queue: the
run goes on.
"""

from __future__ import annotations

import json
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

__all__ = ["Event", "EventBus", "Subscription"]


class Wired(Protocol):
    """A record (`records.py`): published as its v2 wire object."""

    def to_wire(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Event:
    """One server-sent event; `data` is already JSON, a snapshot taken when it was published."""

    name: str
    data: str

    @classmethod
    def of(cls, name: str, obj: dict[str, Any] | Wired) -> Event:
        data = obj if isinstance(obj, dict) else obj.to_wire()
        return cls(name, json.dumps(data, separators=(",", ":")))


class Subscription:
    """The events of one run, in the order they were published."""

    def __init__(self, bus: EventBus, run_id: str) -> None:
        self._bus = bus
        self.run_id = run_id
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

    def subscribe(self, run_id: str) -> Subscription:
        subscription = Subscription(self, run_id)
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
        event = Event.of(name, obj)
        for subscription in listeners:
            subscription.put(event)
