"""A request body through the preview, against the real server and a real container: a body
that comes in pieces under the browser's Content-Length reaches the container byte for byte
(it once went with chunk lines inside, under that same length: a corrupted upload, and the end
of the body read as the start of another request on the kept connection), and a body that stops
coming is cut with a Spanish 408 instead of holding its connection for ever."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer
from harness.preview_client import LISTEN_ON_80, Student, live_server_fixture, serve_python

pytestmark = pytest.mark.docker

# Echoes each request it reads on a connection (kept alive): its head, and exactly the body its
# Content-Length announces.
ECHO_BODY = (
    LISTEN_ON_80
    + """
while True:
    c, _ = s.accept()
    f = c.makefile("rb")
    while True:
        head = f.readline()
        if not head:
            break
        while not head.endswith(b"\\r\\n\\r\\n"):
            line = f.readline()
            if not line:
                break
            head += line
        size = 0
        for line in head.split(b"\\r\\n"):
            if line.lower().startswith(b"content-length:"):
                size = int(line.split(b":")[1])
        data = f.read(size)
        out = b"HEAD=" + repr(head).encode() + b"\\nBODY=" + data
        c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(out) + out)
    c.close()
"""
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(tmp_path_factory, "bodies", HTTP_BODY_TIMEOUT="5")


def _send_in_pieces(server: LiveServer, head: bytes, pieces: list[bytes]) -> bytes:
    """Writes the head, then each piece a second apart (so the server gets them apart: had they
    come together, the body would go whole, framed by its length, and prove nothing), and
    reads the whole answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        for piece in pieces:
            time.sleep(1.0)
            sock.sendall(piece)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < _framed_size(answer):
            data = sock.recv(65536)
            if not data:
                break
            answer += data
        return answer


def _framed_size(answer: bytes) -> int:
    head, _, _ = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return len(head) + 4 + int(line.split(b":")[1])
    return 1 << 30  # no length yet: read on until the end


async def test_a_body_in_pieces_reaches_the_container_as_it_was_sent(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("eco", 8085, ECHO_BODY))
    host, cookie = await asyncio.to_thread(ana.enter, 8085)
    pieces = [b"part1-part1-", b"part2-part2-", b"ZZZGET /colada HTTP/1.1\r\nHost: x\r\n\r\n"]
    size = sum(len(p) for p in pieces)
    head = (
        f"POST /subir HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
        f"Content-Length: {size}\r\nConnection: close\r\n\r\n"
    ).encode()

    answer = await asyncio.to_thread(_send_in_pieces, server, head, pieces)

    assert answer.startswith(b"HTTP/1.1 200 "), answer[:300]
    echoed = answer.partition(b"\r\n\r\n")[2]
    seen_head, _, seen_body = echoed.partition(b"\nBODY=")
    assert seen_body == b"".join(pieces)
    assert b"content-length: %d" % size in seen_head.lower()
    assert b"transfer-encoding" not in seen_head.lower()
    # The container's kept connection carries the next request cleanly (nothing was left in it).
    again = await asyncio.to_thread(
        _send_in_pieces,
        server,
        f"GET /otra HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
        "Connection: close\r\n\r\n".encode(),
        [],
    )
    assert b"HEAD=b'GET /otra HTTP/1.1" in again, again[:300]


async def test_a_body_that_stops_coming_is_cut_with_408(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("espera", 8086, ECHO_BODY))
    host, cookie = await asyncio.to_thread(ana.enter, 8086)
    head = (
        f"POST /subir HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
        "Content-Length: 1000\r\nConnection: close\r\n\r\n"
    ).encode()

    # Half a body, then nothing (HTTP_BODY_TIMEOUT is 5 s here), and the head alone.
    for pieces in ([b"a" * 100], []):
        answer = await asyncio.to_thread(_send_in_pieces, server, head, pieces)
        assert answer.startswith(b"HTTP/1.1 408 "), answer[:300]
        assert "Petición demasiado lenta".encode() in answer
