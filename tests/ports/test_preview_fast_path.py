"""The preview's fast path (tutorial.server, sandbox.preview.fast_path), through the real server:
a plain request with the owner's cookie is served by the server's connection itself, without the
ASGI app, and keeps every guarantee of the ASGI path. Each test reads the server's log to know
which path served a request: the fast path writes `vista directa: <method> <path>` (at DEBUG)
for each request it takes, and nothing for one that goes through ASGI."""

from __future__ import annotations

import asyncio
import http.client
import io
import socket
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer, serving
from harness.preview_client import Student, body, request, serve_python, wait_for_page

pytestmark = [pytest.mark.docker]

RATE = 1024  # PREVIEW_BYTES_PER_SECOND of this module's server: the least it takes
BIG = 2 * 1024 * 1024  # the body of /grande

# The student's app (standard library only): one thread per connection, kept alive.
APP = r"""
import http.server, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args):
        pass
    def answer(self, body, *headers):
        self.send_response(200)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/grande":
            self.answer(b"g" * (2 * 1024 * 1024))
        elif path == "/callado":
            time.sleep(30)
        elif path == "/enorme":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Grande: " + b"a" * 70000 +
                             b"\r\nContent-Length: 0\r\n\r\n")
        elif path == "/trozos":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"uno-", b"dos-", b"tres"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        else:
            cookie = self.headers.get("Cookie") or ""
            self.answer(("pagina-rapida COOKIE=" + cookie).encode(),
                        ("Set-Cookie", "app=1; Domain=vista.localhost; Path=/"),
                        ("Set-Cookie", "otra=2; Path=/;\tDOMAIN = .vista.localhost"))
    do_HEAD = do_GET
http.server.ThreadingHTTPServer(("0.0.0.0", 80), H).serve_forever()
"""


# This module's limits, and the log level at which the fast path names what it serves.
SERVER_ENV = {
    "SANDBOX_WARM_POOL": "0",
    "PREVIEW_IDLE_SECONDS": "2",
    "PREVIEW_BYTES_PER_SECOND": str(RATE),
    "PREVIEW_MAX_REQUEST_BYTES": "4k",
    "LOG_LEVEL": "DEBUG",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from serving(tmp_path_factory.mktemp("fast"), "fast", **SERVER_ENV)


def fast_served(server: LiveServer, method: str, path: str) -> int:
    """How many `method path` requests the fast path has served so far."""
    return server.log.read_text(errors="replace").count(f"vista directa: {method} {path}\n")


async def open_app(server: LiveServer, host_port: int) -> tuple[Student, str, str]:
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("rapido", host_port, APP))
    host, cookie = await asyncio.to_thread(ana.enter, host_port)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-rapida")
    return ana, host, cookie


async def test_the_fast_path_serves_the_containers_page_on_a_kept_connection(server):
    ana, host, cookie = await open_app(server, 8070)
    before = fast_served(server, "GET", "/pagina")
    # Two requests on one browser connection (kept alive), then one that asks to close.
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    for _ in range(2):
        conn.request("GET", "/pagina", headers={"Host": host, "Cookie": cookie})
        response = conn.getresponse()
        assert response.status == 200 and b"pagina-rapida" in response.read()
        assert response.getheader("Connection") is None
    conn.request("GET", "/pagina", headers={"Host": host, "Cookie": cookie, "Connection": "close"})
    response = conn.getresponse()
    assert response.status == 200 and b"pagina-rapida" in response.read()
    assert response.getheader("Connection") == "close"
    conn.close()
    assert fast_served(server, "GET", "/pagina") == before + 3

    # A chunked answer goes on chunked; a HEAD gets the head only.
    pieces = await asyncio.to_thread(
        request, server, "GET", "/trozos", {"Host": host, "Cookie": cookie}
    )
    assert pieces.status == 200 and body(pieces) == "uno-dos-tres"
    assert pieces.getheader("Transfer-Encoding") == "chunked"
    head = await asyncio.to_thread(
        request, server, "HEAD", "/pagina", {"Host": host, "Cookie": cookie}
    )
    assert head.status == 200 and body(head) == "" and int(head.getheader("Content-Length")) > 0
    assert fast_served(server, "GET", "/trozos") == 1
    assert fast_served(server, "HEAD", "/pagina") == 1
    # The preview's own headers are there as on the ASGI path: nobody may frame it.
    assert head.getheader("Content-Security-Policy") == "frame-ancestors 'none'"
    assert head.getheader("X-Frame-Options") == "DENY"


async def test_the_fast_path_never_forwards_muelles_cookies_and_drops_cookie_domains(server):
    ana, host, cookie = await open_app(server, 8071)
    sent = f"{cookie}; propia=1; muelle_vista_marco=x; {ana.cookie}"
    answer = await asyncio.to_thread(request, server, "GET", "/eco", {"Host": host, "Cookie": sent})
    assert fast_served(server, "GET", "/eco") == 1
    text = body(answer)
    assert answer.status == 200 and "pagina-rapida" in text
    # The app's own cookies arrive; the preview's (the owner's and a frame one) never do.
    seen = text.split("COOKIE=", 1)[1]
    assert "propia=1" in seen
    assert "muelle_vista" not in seen
    cookies = answer.headers.get_all("Set-Cookie") or []
    assert sorted(c.split("=", 1)[0] for c in cookies) == ["app", "otra"]
    for value in cookies:
        names = [part.split("=", 1)[0].strip().lower() for part in value.split(";")[1:]]
        assert "domain" not in names, value


async def test_the_fast_path_holds_a_student_to_their_byte_rate(server):
    ana, host, cookie = await open_app(server, 8072)
    beto = await asyncio.to_thread(Student, server)
    await beto.shell(serve_python("rapido", 8072, APP))
    beto_host, beto_cookie = await asyncio.to_thread(beto.enter, 8072)
    await asyncio.to_thread(wait_for_page, server, beto_host, beto_cookie, "pagina-rapida")

    # Ana asks for BIG bytes. Her budget lets one piece through at once (at most what the
    # preview reads from the container before it stops: well under BIG) and then RATE bytes a
    # second, so the whole answer would take about half an hour.
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET /grande HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode())
    received = 0
    started = asyncio.Event()

    async def read_all() -> None:
        nonlocal received
        while chunk := await reader.read(65536):
            received += len(chunk)
            started.set()

    stream = asyncio.ensure_future(read_all())
    try:
        await asyncio.wait_for(started.wait(), 60)
        # Meanwhile Beto, on his own budget, gets his page; Ana's answer is still held back.
        page = await asyncio.to_thread(
            request, server, "GET", "/", {"Host": beto_host, "Cookie": beto_cookie}
        )
        assert page.status == 200 and "pagina-rapida" in body(page)
        assert not stream.done() and received < BIG
    finally:
        stream.cancel()
        writer.close()
    assert fast_served(server, "GET", "/grande") == 1


async def test_the_fast_path_keeps_the_head_limit_the_timeout_and_the_body_limit(server):
    ana, host, cookie = await open_app(server, 8075)
    headers = {"Host": host, "Cookie": cookie}

    # A response head over the limit: the Spanish 502 page, never the head.
    huge = await asyncio.to_thread(request, server, "GET", "/enorme", headers)
    assert huge.status == 502 and "no es HTTP válido" in body(huge)
    assert huge.getheader("X-Grande") is None
    assert fast_served(server, "GET", "/enorme") == 1

    # Accepted and never answered: the 504 page after PREVIEW_IDLE_SECONDS.
    silent = await asyncio.to_thread(request, server, "GET", "/callado", headers)
    assert silent.status == 504 and "no respondió a tiempo" in body(silent)
    assert fast_served(server, "GET", "/callado") == 1

    # A request body is not the fast path's: the ASGI path caps it (413 over 4 KiB here).
    posted = await asyncio.to_thread(request, server, "PUT", "/subida", headers, b"x" * 8192)
    assert posted.status == 413 and "demasiado grande" in body(posted)
    assert fast_served(server, "PUT", "/subida") == 0
    # And the server still serves the owner's page, fast.
    assert (await asyncio.to_thread(request, server, "GET", "/otra", headers)).status == 200
    assert fast_served(server, "GET", "/otra") == 1


def same_answer(a: http.client.HTTPResponse, b: http.client.HTTPResponse) -> bool:
    """Status, headers (but the date) and body alike."""

    def shown(r: http.client.HTTPResponse) -> tuple[int, list[tuple[str, str]], str]:
        headers = sorted((k.lower(), v) for k, v in r.getheaders() if k.lower() != "date")
        return r.status, headers, body(r)

    return shown(a) == shown(b)


async def test_a_forged_host_or_another_students_cookie_gets_what_the_asgi_path_gives(server):
    ana, host, cookie = await open_app(server, 8073)
    beto = await asyncio.to_thread(Student, server)
    await beto.shell(serve_python("rapido", 8073, APP))
    beto_host, beto_cookie = await asyncio.to_thread(beto.enter, 8073)
    assert beto_host != host

    def get(host_header: str, cookie_header: str | None) -> http.client.HTTPResponse:
        headers = {"Host": host_header, **({"Cookie": cookie_header} if cookie_header else {})}
        return request(server, "GET", "/ajeno", headers)

    # Beto's cookie on Ana's host, or Ana's on another port of hers: what no cookie gets (the
    # ASGI path's 403), byte for byte.
    refused = await asyncio.to_thread(get, host, None)
    assert refused.status == 403 and "caducado" in body(refused)
    for forged in (
        await asyncio.to_thread(get, host, beto_cookie),
        await asyncio.to_thread(get, host.replace("8073-", "8074-"), cookie),
    ):
        assert same_answer(forged, refused)
    # Forged hosts, with Ana's valid cookie: what they get without it.
    for forged_host in (
        host.split(":")[0] + ".evil.example",
        "8073-zzz.vista.localhost",
        host.replace("8073-", "80730-"),
    ):
        with_cookie = await asyncio.to_thread(get, forged_host, cookie)
        without = await asyncio.to_thread(get, forged_host, None)
        assert with_cookie.status == 400 and "pagina-rapida" not in body(with_cookie)
        assert same_answer(with_cookie, without)
    assert fast_served(server, "GET", "/ajeno") == 0
    # Ana's own cookie on her own host is the fast path's, and her page.
    mine = await asyncio.to_thread(get, host, cookie)
    assert mine.status == 200 and "pagina-rapida" in body(mine)
    assert fast_served(server, "GET", "/ajeno") == 1


class _Kept(io.BufferedReader):
    """One buffer for every answer read off a connection (http.client closes its own)."""

    def close(self) -> None:
        pass


def _answers(sock: socket.socket, methods: list[str]) -> list[tuple[int, bytes]]:
    fp = _Kept(socket.SocketIO(sock, "rb"))
    holder = type("Holder", (), {"makefile": lambda self, *a, **k: fp})()
    found = []
    for method in methods:
        response = http.client.HTTPResponse(holder, method=method)  # type: ignore[arg-type]
        response.begin()
        found.append((response.status, response.read()))
    return found


async def test_pipelined_requests_are_answered_in_order_and_a_body_hands_over_to_uvicorn(server):
    ana, host, cookie = await open_app(server, 8076)
    common = f"Host: {host}\r\nCookie: {cookie}\r\n"
    # Four requests in one write: two the front serves, then one with a body, which hands the
    # connection to uvicorn for good (the fourth is uvicorn's too).
    pipelined = (
        f"GET /uno HTTP/1.1\r\n{common}\r\n"
        f"HEAD /dos HTTP/1.1\r\n{common}\r\n"
        f"PUT /tres HTTP/1.1\r\n{common}Content-Length: 5\r\n\r\nhola!"
        f"GET /cuatro HTTP/1.1\r\n{common}Connection: close\r\n\r\n"
    ).encode()

    def exchange() -> list[tuple[int, bytes]]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
            sock.sendall(pipelined)
            return _answers(sock, ["GET", "HEAD", "PUT", "GET"])

    answers = await asyncio.to_thread(exchange)
    assert [status for status, _ in answers] == [200, 200, 501, 200]
    assert b"pagina-rapida" in answers[0][1] and answers[1][1] == b""
    assert b"pagina-rapida" in answers[3][1]
    assert fast_served(server, "GET", "/uno") == 1
    assert fast_served(server, "HEAD", "/dos") == 1
    assert fast_served(server, "PUT", "/tres") == 0
    assert fast_served(server, "GET", "/cuatro") == 0  # the connection is uvicorn's by then


async def test_a_head_the_front_doubts_is_answered_by_uvicorn_not_left_waiting(server):
    ana, host, cookie = await open_app(server, 8077)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        # Bare LFs: the front never finds its CRLF CRLF, and hands the head to uvicorn at once
        # (which refuses it); waiting for more would hold the connection until the head timeout.
        writer.write(f"GET /lf HTTP/1.1\nHost: {host}\nCookie: {cookie}\n\n".encode())
        status_line = await asyncio.wait_for(reader.readline(), 30)
    finally:
        writer.close()
    assert status_line.startswith(b"HTTP/1.1 400 "), status_line
    assert fast_served(server, "GET", "/lf") == 0


async def test_an_idle_kept_alive_connection_is_closed_after_the_keep_alive_timeout(server):
    ana, host, cookie = await open_app(server, 8078)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(f"GET /ocioso HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode())
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert head.startswith(b"HTTP/1.1 200 ") and b"connection: close" not in head.lower()
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        assert b"pagina-rapida" in await reader.readexactly(length)
        # Nothing more is sent: the server ends the connection (--timeout-keep-alive 5 here).
        assert await asyncio.wait_for(reader.read(), 60) == b""
    finally:
        writer.close()
    assert fast_served(server, "GET", "/ocioso") == 1
