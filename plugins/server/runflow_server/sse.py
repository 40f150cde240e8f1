"""Server-sent events in the hosted API's framing.

Each event is `event: NAME\\ndata: JSON\\n\\n`. A stream ends after `thread.run.requires_action`
or a terminal run event with `event: done\\ndata: [DONE]\\n\\n`, as the hosted API's streams do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable

from .events import Event, Subscription

__all__ = ["DONE", "ENDING_EVENTS", "encode", "event_stream"]

DONE = b"event: done\ndata: [DONE]\n\n"

ENDING_EVENTS = frozenset(
    {
        "thread.run.requires_action",
        "thread.run.completed",
        "thread.run.failed",
        "thread.run.incomplete",
        "thread.run.cancelled",
        "thread.run.expired",
    }
)


def encode(event: Event) -> bytes:
    return f"event: {event.name}\ndata: {event.data}\n\n".encode()


async def event_stream(
    subscription: Subscription, *, first: Iterable[Event] = ()
) -> AsyncIterator[bytes]:
    """The body of an SSE response: `first`, then the run's events up to the stream's end."""
    try:
        for event in first:
            yield encode(event)
        async for event in subscription:
            yield encode(event)
            if event.name in ENDING_EVENTS:
                break
        yield DONE
    finally:
        subscription.close()
