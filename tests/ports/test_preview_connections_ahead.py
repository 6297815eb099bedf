"""Connections opened ahead, through the real server and a real container.

For a server that closes each connection after its answer, the preview opens the next request's
connection as soon as an answer is out. A request that must take a new connection of its own (a
POST) first closes that one: a server that serves one connection at a time would otherwise wait
on it, and the POST would time out.
"""

from __future__ import annotations

import asyncio

import pytest

from harness.preview_client import LISTEN_ON_80, Student, body, request, serve_python

pytestmark = [pytest.mark.docker]

# One connection at a time; each answer names its method, its connection's number and the body
# it read, and closes the connection ("Connection: close"), as busybox httpd does.
ONE_AT_A_TIME = (
    LISTEN_ON_80
    + r"""
n = 0
while True:
    c, _ = s.accept(); n += 1; f = c.makefile("rb")
    open("/tmp/aceptadas", "w").write(str(n))
    line = f.readline(); length = 0
    while True:
        h = f.readline()
        if h in (b"\r\n", b""):
            break
        if h.lower().startswith(b"content-length:"):
            length = int(h.split(b":")[1])
    if line:
        text = b"%s conexion-%d %s" % (line.split()[0], n, f.read(length))
        c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: %d\r\n\r\n"
                  % len(text) + text)
    f.close(); c.close()
"""
)
# How many connections the server has accepted (it writes the count on each accept).
ACCEPTED = 'echo "aceptadas=$(docker exec uno cat /tmp/aceptadas)"'


async def test_the_next_connection_is_opened_ahead_and_freed_for_a_post(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("uno", 8095, ONE_AT_A_TIME))
    host, cookie = await asyncio.to_thread(ana.enter, 8095)
    headers = {"Host": host, "Cookie": cookie}
    # The readiness probe above was connection 1.
    first = await asyncio.to_thread(request, server, "GET", "/", headers)
    assert (first.status, body(first)) == (200, "GET conexion-2 ")

    # Nothing is being asked now, yet the server has accepted a third connection: the next
    # one, ahead. (Counted by the server itself: a count of open sockets, read by a docker exec
    # that a loaded machine made slower than the kept connection's 4 s, saw it already gone.)
    seen = ""
    for _ in range(100):
        seen = await ana.shell(ACCEPTED)
        if "aceptadas=3" in seen:
            break
        await asyncio.sleep(0.1)
    assert "aceptadas=3" in seen

    # A POST takes a new connection; the one opened ahead is closed first (the server saw it
    # end unasked, as connection 3), so the POST is served at once instead of waiting behind
    # it past PREVIEW_IDLE_SECONDS (2 s here).
    posted = await asyncio.to_thread(
        request, server, "POST", "/", {**headers, "Content-Type": "text/plain"}, b"hola"
    )
    assert (posted.status, body(posted)) == (200, "POST conexion-4 hola")

    # A GET after a GET takes the connection opened ahead, answered in turn.
    again = await asyncio.to_thread(request, server, "GET", "/", headers)
    assert (again.status, body(again)) == (200, "GET conexion-5 ")
    taken = await asyncio.to_thread(request, server, "GET", "/", headers)
    assert (taken.status, body(taken)) == (200, "GET conexion-6 ")
