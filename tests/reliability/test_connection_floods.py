"""What one anonymous connection can make the real server hold (tutorial/http_limits.py, the
ping bound in tutorial/server.py), found by an attack review: an endless request head, thousands
of pipelined requests that are never read, a flood of websocket pings."""

from __future__ import annotations

import asyncio
import re
import select
import socket
from collections.abc import Iterator

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from harness.live_server import LiveServer, serving
from harness.tabs import new_terminal_id
from tutorial.http_limits import HEAD_MAX, PIPELINE_MAX
from tutorial.server import PINGS_PER_SECOND

HEALTH = b"GET /sandbox/salud/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
HEADER_LINE = b"X-Relleno: " + b"a" * 8000 + b"\r\n"
# Far past what the server may take of a head (HEAD_MAX plus one read of uvicorn's, 64 KiB):
# without the bound, all of it went in, and more, until the head timeout.
SENT_MAX = 4 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from serving(tmp_path_factory.mktemp("floods"), "floods")


def responses(sock: socket.socket) -> list[bytes]:
    """The status lines the server sends until it closes the connection."""
    data = b""
    sock.settimeout(20)
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except ConnectionResetError:
        pass
    # The health page's JSON body never holds a status line, and a body has no line end.
    return re.findall(rb"HTTP/1\.1 \d{3} ", data)


def endless_head(
    sock: socket.socket, line: bytes = HEADER_LINE, opening: bytes = b""
) -> tuple[int, bytes]:
    """Sends `line` again and again after a request line (and `opening`) until the server
    answers or SENT_MAX went out: (bytes sent, answer)."""
    sock.sendall(b"GET /sandbox/salud/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + opening)
    sent = 0
    while sent < SENT_MAX:
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
        try:
            sock.sendall(line)
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += len(line)
    sock.settimeout(10)
    try:
        return sent, sock.recv(65536)
    except (TimeoutError, ConnectionResetError):
        return sent, b""


def test_an_endless_request_head_gets_431_and_is_not_read_further(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sent, answer = endless_head(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"demasiado grande" in answer
    assert HEAD_MAX < sent < SENT_MAX


def test_one_endless_header_line_gets_431_too(server: LiveServer) -> None:
    # The parser hands a header over only once its line ends, copying the growing value at
    # each read meanwhile: counting headers was not enough.
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sent, answer = endless_head(sock, b"a" * 8000, opening=b"X-Sin-Fin: ")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert sent < SENT_MAX


def test_a_whole_head_over_the_limit_gets_one_431_and_nothing_else(server: LiveServer) -> None:
    head = b"GET /sandbox/salud/ HTTP/1.1\r\nHost: 127.0.0.1\r\n" + HEADER_LINE * 10 + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head + HEALTH)
        assert responses(sock) == [b"HTTP/1.1 431 "]


def test_the_second_request_of_a_kept_connection_is_bounded_too(server: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(HEALTH)
        first = b""
        while not first.endswith(b"}"):  # the health page's JSON, whole
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first[:200]
        sent, answer = endless_head(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert sent < SENT_MAX


def test_trailers_after_a_chunked_body_are_bounded_too(server: LiveServer) -> None:
    head = (
        b"POST /sandbox/salud/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n4\r\nhola\r\n0\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        sent = 0
        try:
            while sent < SENT_MAX:
                sock.sendall(HEADER_LINE)
                sent += len(HEADER_LINE)
        except (BrokenPipeError, ConnectionResetError):
            pass
    assert sent < SENT_MAX


def test_a_few_pipelined_requests_are_answered_and_a_flood_of_them_is_dropped(
    server: LiveServer,
) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            HEALTH * 4 + b"GET /sandbox/salud/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert len(responses(sock)) == 5
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(HEALTH * 1000)
        answered = responses(sock)
    assert len(answered) <= PIPELINE_MAX + 2


@pytest.mark.docker
async def test_a_websocket_flooded_with_pings_is_dropped_and_a_few_pings_are_answered(
    server: LiveServer,
) -> None:
    cookie = await asyncio.to_thread(server.session_cookie)
    calm = await server.open_terminal(cookie, new_terminal_id())
    flood = await server.open_terminal(cookie, new_terminal_id())
    try:
        for _ in range(3):
            await asyncio.wait_for(await calm.ping(), 10)
        with pytest.raises(ConnectionClosed):  # the server drops it: no close frame
            for _ in range(PINGS_PER_SECOND * 5):
                await flood.ping()
            while True:
                await asyncio.wait_for(flood.recv(), 10)
        await asyncio.wait_for(await calm.ping(), 10)
    finally:
        await calm.close()
        await flood.close()


async def test_a_websocket_to_a_path_nobody_serves_is_refused_not_an_error(
    server: LiveServer,
) -> None:
    for path in ("/ws/nada/", "/", "/lecciones/que-es-docker/"):
        with pytest.raises(InvalidStatus) as refused:
            await connect(f"ws://127.0.0.1:{server.port}{path}", origin=server.url, open_timeout=30)
        assert refused.value.response.status_code == 403, path
