"""Serving over TCP with uvicorn, with every connection bounded in time.

uvicorn closes a keep-alive connection left idle after a response (`timeout_keep_alive`), but
it arms no timer for a new connection, and a client that sends part of its request headers
cancels the keep-alive timer: such connections stay open for ever, and a few hundred of them
(no API key needed) hold the server's sockets. `HeaderDeadline` is uvicorn's h11 protocol with
one more timer: from a connection's start, and again from the end of each response, the next
request's headers must be complete within `header_timeout` seconds. If they are not, the server
answers `408 Request Timeout` when part of a request came (nothing when none did) and closes.
A body that arrives slowly is the route's to read; the header timer is off while a request is
in flight.

`server_options` are the uvicorn settings `runflow serve` runs with: this protocol, the keep-alive
timeout, `limit_concurrency` (connections and requests at once, beyond which uvicorn answers
503) and the listen `backlog`. Behind a reverse proxy (see the README), the proxy bounds client
connections too; these bounds still hold for the proxy's own connections.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["HEADER_TIMEOUT", "HeaderDeadline", "header_deadline", "server_options"]

HEADER_TIMEOUT = 10.0
KEEP_ALIVE = 10
"""Seconds an idle keep-alive connection stays open: longer than clients keep theirs. The openai
client (httpx) reuses a pooled connection for 5 s after it has read the last response; a server
closing at the same 5 s races it, and a request written onto a connection the server has just
closed fails with a connection reset (`APIConnectionError`). A loaded client writes late: its
pool checks a connection's age when it picks it, then closes the other expired connections
before it sends. At 10 s (the header timeout, which closes an idle connection as well) the client
lets the connection go first."""
LIMIT_CONCURRENCY = 1024
BACKLOG = 2048
_TIMEOUT = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"


class HeaderDeadline(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers do not come in time."""

    header_timeout = HEADER_TIMEOUT
    _header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None and not self.cycle.response_complete:
            self._disarm()  # a request's headers are in: the route reads the rest

    def on_response_complete(self) -> None:
        self._arm()  # before: the base class may go on to a pipelined request at once
        super().on_response_complete()

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        partial, _ = self.conn.trailing_data
        if partial:
            self.transport.write(_TIMEOUT)
        self.transport.close()


def header_deadline(seconds: float) -> type[HeaderDeadline]:
    """`HeaderDeadline` with its own `header_timeout`, as uvicorn's `http` protocol class."""
    if seconds <= 0:
        raise ValueError("header_timeout must be positive")
    return type("HeaderDeadline", (HeaderDeadline,), {"header_timeout": seconds})


def server_options(
    *,
    header_timeout: float = HEADER_TIMEOUT,
    keep_alive: int = KEEP_ALIVE,
    limit_concurrency: int | None = LIMIT_CONCURRENCY,
    backlog: int = BACKLOG,
) -> dict[str, Any]:
    """The connection bounds of `runflow serve`, as keyword arguments of `uvicorn.run` or
    `uvicorn.Config`."""
    return {
        "http": header_deadline(header_timeout),
        "timeout_keep_alive": keep_alive,
        "limit_concurrency": limit_concurrency,
        "backlog": backlog,
    }
