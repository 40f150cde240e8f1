"""Slow clients: connections that never finish their request headers are closed in time.

Each test serves the app with `runflow serve`'s uvicorn configuration (a header timeout of
0.3 s) in a thread, on a real socket, and talks raw HTTP/1.1 to it. Waiting is a blocking
`recv` for the server's answer or close (a 5 s socket timeout is only a safety net).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn
from openai._constants import DEFAULT_CONNECTION_LIMITS

from runflow_server import create_app, serve_command
from runflow_server.serving import HeaderDeadline, header_deadline, server_options

TIMEOUT = 0.3
REQUEST = b"GET /v1/assistants HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.fixture
def address() -> Iterator[tuple[str, int]]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    options = server_options(header_timeout=TIMEOUT)
    config = uvicorn.Config(create_app(), log_level="warning", **options)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield sock.getsockname()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def connect(address: tuple[str, int]) -> socket.socket:
    conn = socket.create_connection(address)
    conn.settimeout(5)
    return conn


def read_until_closed(conn: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := conn.recv(65536):
        received += chunk
    return received


def read_response(conn: socket.socket) -> bytes:
    """One response with a Content-Length body (the server keeps the connection open)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += conn.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    while len(body) < length:
        body += conn.recv(65536)
    return head


def test_a_connection_that_sends_nothing_is_closed(address: tuple[str, int]) -> None:
    started = time.monotonic()
    with connect(address) as conn:
        assert read_until_closed(conn) == b""
    assert time.monotonic() - started < 3


def test_half_sent_headers_get_a_408_and_a_close(address: tuple[str, int]) -> None:
    with connect(address) as conn:
        conn.sendall(b"GET /v1/assistants HTTP/1.1\r\nHost: x\r\n")
        answer = read_until_closed(conn)

    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")


def test_the_timer_starts_again_after_each_response(address: tuple[str, int]) -> None:
    with connect(address) as conn:
        conn.sendall(REQUEST)
        first = read_response(conn)
        conn.sendall(b"GET /v1/assistants HTTP/1.1\r\n")  # a second request, never finished
        answer = read_until_closed(conn)

    assert first.startswith(b"HTTP/1.1 200 ")
    assert answer.startswith(b"HTTP/1.1 408 ")


def test_headers_in_pieces_within_the_timeout_are_served(address: tuple[str, int]) -> None:
    with connect(address) as conn:
        for piece in (REQUEST[:10], REQUEST[10:25], REQUEST[25:]):
            conn.sendall(piece)
        head = read_response(conn)
        conn.sendall(REQUEST)  # and the connection is kept alive for the next one
        again = read_response(conn)

    assert head.startswith(b"HTTP/1.1 200 ") and again.startswith(b"HTTP/1.1 200 ")


def test_a_crowd_of_slow_clients_is_bounded(address: tuple[str, int]) -> None:
    crowd = [connect(address) for _ in range(50)]
    for conn in crowd:
        conn.sendall(b"POST /v1/threads HTTP/1.1\r\nHost: x\r\nContent-")

    answers = [read_until_closed(conn) for conn in crowd]
    with connect(address) as fresh:  # and the server still serves
        fresh.sendall(REQUEST)
        served = read_response(fresh)

    for conn in crowd:
        conn.close()
    assert all(answer.startswith(b"HTTP/1.1 408 ") for answer in answers)
    assert served.startswith(b"HTTP/1.1 200 ")


def test_idle_connections_outlive_the_openai_clients_pool() -> None:
    # The client must drop an idle connection before the server closes it: a request written
    # onto a connection the server closes at the same moment fails with a connection reset.
    client_expiry = DEFAULT_CONNECTION_LIMITS.keepalive_expiry
    options = server_options()

    assert client_expiry is not None
    assert options["timeout_keep_alive"] >= 2 * client_expiry
    assert options["http"].header_timeout >= options["timeout_keep_alive"]


def test_header_deadline_wants_a_positive_timeout() -> None:
    with pytest.raises(ValueError, match="positive"):
        header_deadline(0)


def test_serve_passes_the_bounds_to_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    given: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: given.update(options))
    flags = ["--header-timeout", "2.5", "--keep-alive", "3", "--limit-concurrency", "0"]

    assert serve_command([*flags, "--backlog", "64"]) == 0

    assert given["http"].header_timeout == 2.5 and issubclass(given["http"], HeaderDeadline)
    assert (given["timeout_keep_alive"], given["limit_concurrency"], given["backlog"]) == (
        3,
        None,
        64,
    )


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(["--header-timeout", "0"], id="header-timeout-0"),
        pytest.param(["--header-timeout", "nan"], id="header-timeout-nan"),
        pytest.param(["--keep-alive", "-1"], id="keep-alive-negative"),
        pytest.param(["--limit-concurrency", "+5"], id="limit-concurrency-plus"),
        pytest.param(["--backlog", "0"], id="backlog-0"),
    ],
)
def test_bad_connection_flags_stop_serve(
    flags: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        serve_command(flags)

    assert stopped.value.code == 2
    assert f"argument {flags[0]}" in capsys.readouterr().err
