"""The server's front (tutorial/front_protocol.py) keeps what uvicorn did for a connection, on
the findings of its attack review: the access log line as uvicorn writes it, an answer a
container sent before the request, and the request-head timeout across a handover. Each test
reads the real server (`python -m tutorial.server --log-level info`) and its log."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer, serving
from harness.preview_client import Student, body, request, serve_python, wait_for_page
from harness.raw_http import closed_by_server

pytestmark = [pytest.mark.docker]

# A server that speaks first: on every connection it writes its whole answer at once and keeps
# the socket open, never reading (as `nc -l` does with a file on its input).
SPEAKS_FIRST = r"""
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(16)
held = []
while True:
    c, _ = s.accept()
    c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: close\r\n\r\nhabla-antes!")
    held.append(c)
"""
PAGE = r"""
import http.server
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "13")
        self.end_headers()
        self.wfile.write(b"pagina-frente")
http.server.ThreadingHTTPServer(("0.0.0.0", 80), H).serve_forever()
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # At the server's default level (scripts/serve): the access lines are written.
    yield from serving(
        tmp_path_factory.mktemp("front"),
        "front",
        "--log-level",
        "info",
        SANDBOX_WARM_POOL="0",
        PREVIEW_IDLE_SECONDS="2",
    )


async def test_a_fast_answer_is_logged_as_uvicorn_logs_one(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("frente", 8060, PAGE))
    host, cookie = await asyncio.to_thread(ana.enter, 8060)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-frente")
    headers = {"Host": host, "Cookie": cookie}
    for _ in range(2):  # the second on a kept connection to the container: the quick exchange
        page = await asyncio.to_thread(request, server, "GET", "/a%20b?x=1", headers)
        assert page.status == 200 and body(page) == "pagina-frente"
    log = server.log.read_text(errors="replace")
    assert '"GET /a%20b?x=1 HTTP/1.1" 200' in log
    assert "Logging error" not in log


async def test_an_answer_sent_before_the_request_is_answered_at_once(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("primero", 8061, SPEAKS_FIRST))
    host, cookie = await asyncio.to_thread(ana.enter, 8061)
    headers = {"Host": host, "Cookie": cookie}
    # The first answer closes its connection, so the next one is opened ahead, and the server
    # has written its answer there before any request: every request gets it, none waits for
    # PREVIEW_IDLE_SECONDS and a 504 (before, every second one did).
    for _ in range(4):
        page = await asyncio.to_thread(request, server, "GET", "/", headers)
        assert page.status == 200 and body(page) == "habla-antes!"


def test_a_head_handed_over_half_sent_keeps_the_time_it_had_left(server):
    """--header-timeout 5 here. A head half-sent for 3.5 s, then grown past the front's 16 KiB
    head limit (handed over to uvicorn), is closed when its 5 s are up; before, uvicorn's timer
    started again at the handover, and held it 5 s more. (4 s to see the close: 2.5 s of slack
    for a loaded machine, and still 1 s short of the old 5.)"""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Lento: ")
        time.sleep(3.5)
        sock.sendall(b"a" * (17 * 1024))
        assert closed_by_server(sock, 4.0)


async def test_heads_dripped_a_byte_at_a_time_are_each_found_once_whole(server):
    """The front searches only what arrived since its last search (from three bytes back, so an
    end of head split between two reads, "\\r\\n\\r" then "\\n", is still found). A head sent one
    byte per segment is answered; so is a shorter one that comes whole in the same segment as
    the first head's last byte (its search starts again from its own start)."""
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("goteo", 8062, PAGE))
    host, cookie = await asyncio.to_thread(ana.enter, 8062)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-frente")
    head = f"GET / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
    long_head = (head + f"X-Relleno: {'a' * 200}\r\n\r\n").encode()
    short_head = (head + "\r\n").encode()

    def drip() -> bytes:
        answers = b""
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for byte in long_head[:-1]:
                sock.sendall(bytes([byte]))
                time.sleep(0.001)  # one read per byte on the server's side
            sock.sendall(long_head[-1:] + short_head)
            while answers.count(b"pagina-frente") < 2:
                piece = sock.recv(65536)
                assert piece, answers
                answers += piece
        return answers

    answers = await asyncio.to_thread(drip)
    assert answers.count(b"HTTP/1.1 200 ") == 2 and answers.count(b"pagina-frente") == 2
