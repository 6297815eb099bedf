"""A burst of preview requests against a student's connection limit (64 at once to their ports),
with the real server and a real container that never answers: the container never sees more
than the limit at once, the rest get the Spanish «Demasiadas conexiones» page, and once it is
over the server holds no more sockets than before. (Counted only once connected, every request
of a burst passed the check together: 128 of these 150 reached the container, 384 of 600 in the
review that found it; and each left seven unused sockets made ahead in the container's
namespace.)"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator

import pytest

from harness.live_server import LiveServer
from harness.preview_client import (
    LISTEN_ON_80,
    Student,
    live_server_fixture,
    request,
    serve_python,
)
from sandbox.ports.table import PortTable

pytestmark = pytest.mark.docker

BURST = 150
LIMIT = PortTable.max_connections

# Holds every connection without answering, except `GET /pico`, answered with the most
# connections it ever held at once.
HOLDS = (
    LISTEN_ON_80
    + """
import selectors
sel = selectors.DefaultSelector()
sel.register(s, selectors.EVENT_READ)
held, peak = set(), 0
while True:
    for key, _ in sel.select():
        if key.fileobj is s:
            c, _ = s.accept()
            held.add(c)
            peak = max(peak, len(held))
            sel.register(c, selectors.EVENT_READ)
            continue
        c = key.fileobj
        data = c.recv(65536)
        if not data:
            sel.unregister(c); held.discard(c); c.close()
        elif data.startswith(b"GET /pico"):
            out = b"pico=%d" % peak
            c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(out) + out)
"""
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    # An idle time long enough for the whole burst to be admitted on a loaded machine before
    # the first requests time out and give their places back.
    yield from live_server_fixture(tmp_path_factory, "limit", PREVIEW_IDLE_SECONDS="10")


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


async def _hang(server: LiveServer, host: str, cookie: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET /hang HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode())
    await writer.drain()
    try:
        async with asyncio.timeout(30):
            return await reader.read(65536)  # a 503 at once, or the 504 of the idle timeout
    finally:
        writer.close()


async def test_a_burst_never_passes_the_limit_nor_leaves_sockets_behind(server):
    assert server.process is not None
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve_python("quieto", 8087, HOLDS))
    host, cookie = await asyncio.to_thread(ana.enter, 8087)
    first = await asyncio.to_thread(
        request, server, "GET", "/pico", {"Host": host, "Cookie": cookie}
    )
    assert first.status == 200
    before = _open_fds(server.process.pid)

    answers = await asyncio.gather(*(_hang(server, host, cookie) for _ in range(BURST)))

    refused = [a for a in answers if a.startswith(b"HTTP/1.1 503 ")]
    assert refused, answers[:3]
    assert b"Demasiadas conexiones" in refused[0], refused[0]
    peak = await asyncio.to_thread(
        request, server, "GET", "/pico", {"Host": host, "Cookie": cookie}
    )
    assert peak.status == 200
    held = int(peak.read_body.split(b"=")[1])  # type: ignore[attr-defined]
    assert 0 < held <= LIMIT, held
    # The connections ended (answered or timed out): the server is back where it was, give or
    # take the few sockets made ahead and the connections kept for the next request.
    after = _open_fds(server.process.pid)
    assert after - before <= 16, (before, after)
