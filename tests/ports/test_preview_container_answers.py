"""The preview's HTTP client (sandbox.preview.container_http) against a real TCP peer that sends
exactly the bytes a container could: valid answers in every framing, and hostile ones. The peer
is an asyncio server on loopback; the client under test is the real protocol on a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from sandbox.preview.container_http import (
    HEAD_LIMIT,
    HIGH_WATER,
    Broken,
    ContainerConnection,
    NoAnswer,
)

Peer = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Served:
    """A loopback server running `peer` for each connection, and the requests it read."""

    def __init__(self, peer: Peer) -> None:
        self.peer = peer
        self.port = 0
        self.connections = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            await self.peer(reader, writer)
        finally:
            writer.close()

    async def connect(self) -> ContainerConnection:
        loop = asyncio.get_running_loop()
        _transport, conn = await loop.create_connection(ContainerConnection, "127.0.0.1", self.port)
        return conn


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Peer], Awaitable[Served]]]:
    servers: list[asyncio.Server] = []

    async def start(peer: Peer) -> Served:
        served = Served(peer)
        server = await asyncio.start_server(served.handle, "127.0.0.1", 0)
        served.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return served

    yield start
    for server in servers:
        server.close()


def answers(*chunks: bytes, keep_open: bool = False) -> Peer:
    """A peer that reads one request head and writes `chunks`, one write each."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(0)
        if keep_open:
            await reader.read()  # until the client closes

    return peer


def in_turn(*chunks: bytes) -> Peer:
    """A peer that answers each request on the connection with the next of `chunks`."""

    async def peer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for chunk in chunks:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(chunk)
            await writer.drain()
        await reader.read()  # until the client closes

    return peer


async def exchange(
    conn: ContainerConnection, *, method: bytes = b"GET"
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    conn.begin(head_request=method == b"HEAD")
    conn.write(method + b" / HTTP/1.1\r\nhost: x\r\n\r\n")
    status, headers = await conn.head(5)
    body = b""
    while True:
        data, done = await conn.body(5)
        body += data
        if done:
            return status, headers, body


async def test_a_length_framed_answer_keeps_the_connection_for_the_next_request(serve):
    served = await serve(
        answers(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n",
            b"X-A: 1\r\n\r\nhel",
            b"lo",
            keep_open=True,
        )
    )
    conn = await served.connect()
    status, headers, body = await exchange(conn)
    assert (status, body) == (200, b"hello")
    assert (b"X-A", b"1") in headers
    assert conn.reusable()
    conn.close()


async def test_answers_in_every_framing_follow_each_other_on_one_kept_connection(serve):
    # The parser of the last answer reads the next one (it is made again only after an answer
    # that did not end cleanly): each answer is read whole and alone, whatever came before it.
    served = await serve(
        in_turn(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nuno",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ndos\r\n0\r\n\r\n",
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nX-B: 2\r\n\r\ntres",
            b"HTTP/1.1 204 No Content\r\nX-C: 3\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ncuatro",
        )
    )
    conn = await served.connect()
    got = []
    for _ in range(5):
        status, headers, body = await exchange(conn)
        got.append((status, headers, body))
        assert conn.reusable()
    assert got == [
        (200, [(b"Content-Length", b"3")], b"uno"),
        (200, [(b"Transfer-Encoding", b"chunked")], b"dos"),
        (404, [(b"Content-Length", b"4"), (b"X-B", b"2")], b"tres"),
        (204, [(b"X-C", b"3")], b""),
        (200, [(b"Content-Length", b"6")], b"cuatro"),
    ]
    assert served.connections == 1
    conn.close()


async def test_a_chunked_answer_is_unchunked_and_an_eof_framed_one_ends_with_the_connection(
    serve,
):
    served = await serve(
        answers(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
    )
    conn = await served.connect()
    assert await exchange(conn) == (200, [(b"Transfer-Encoding", b"chunked")], b"abc")
    conn.close()

    served = await serve(
        answers(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil ", b"eof")
    )
    conn = await served.connect()
    status, _headers, body = await exchange(conn)
    assert (status, body) == (200, b"until eof")
    assert not conn.reusable()  # its end was the connection's


async def test_cgi_line_ends_informational_answers_and_head_are_understood(serve):
    # busybox httpd passes a CGI script's bare LF line ends through; 100 and 103 come first.
    served = await serve(
        answers(
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\nSet-Cookie: a=1\n\nCOOKIE=",
        )
    )
    conn = await served.connect()
    status, headers, body = await exchange(conn)
    assert status == 200
    assert headers == [(b"Content-Type", b"text/plain"), (b"Set-Cookie", b"a=1")]
    assert body == b"COOKIE="

    # A HEAD answer announces a length it never sends: it ends with its head.
    served = await serve(
        answers(b"HTTP/1.1 200 OK\r\nContent-Length: 10240\r\n\r\n", keep_open=True)
    )
    conn = await served.connect()
    assert await exchange(conn, method=b"HEAD") == (200, [(b"Content-Length", b"10240")], b"")
    assert not conn.reusable()
    conn.close()


@pytest.mark.parametrize(
    "answer",
    [
        b"SSH-2.0-OpenSSH_9.2\r\n",  # not HTTP at all
        b"HTTP/1.1 200 OK\r\nX-Bad: a\x01b\r\nContent-Length: 0\r\n\r\n",  # a control byte
        b"HTTP/1.1 200 OK\r\nBad Name: 1\r\nContent-Length: 0\r\n\r\n",  # a space in a name
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * HEAD_LIMIT + b"\r\n\r\n",  # an oversized head
        b"",  # closed without a word
    ],
    ids=["not-http", "control-byte", "bad-name", "upgrade", "two-lengths", "huge-head", "none"],
)
async def test_anything_but_a_valid_answer_head_is_no_answer(serve, answer):
    served = await serve(answers(answer))
    conn = await served.connect()
    conn.begin(head_request=False)
    conn.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    with pytest.raises(NoAnswer):
        await conn.head(5)
    assert not conn.reusable()


async def test_a_head_that_trickles_forever_is_cut_at_the_size_limit(serve):
    async def trickle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\n")
        sent = 0
        while not writer.is_closing() and sent < 4 * HEAD_LIMIT:
            writer.write(b"X-Slow: " + b"a" * 1000)  # one header line that never ends
            sent += 1008
            await writer.drain()

    served = await serve(trickle)
    conn = await served.connect()
    conn.begin(head_request=False)
    conn.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    with pytest.raises(NoAnswer):
        await conn.head(5)


async def test_a_cut_body_breaks_and_bytes_after_the_answer_forbid_reuse(serve):
    served = await serve(answers(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort"))
    conn = await served.connect()
    conn.begin(head_request=False)
    conn.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    assert (await conn.head(5))[0] == 200
    received = b""
    with pytest.raises(Broken):
        while True:
            data, done = await conn.body(5)
            received += data
            assert not done
    assert received == b"short"

    served = await serve(
        answers(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", keep_open=True
        )
    )
    conn = await served.connect()
    assert (await exchange(conn))[2] == b"ok"
    await asyncio.sleep(0.05)  # whatever else the peer sent has arrived
    assert not conn.reusable()
    conn.close()


async def test_a_silent_container_times_out(serve):
    served = await serve(answers(keep_open=True))
    conn = await served.connect()
    conn.begin(head_request=False)
    conn.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    with pytest.raises(TimeoutError):
        await conn.head(0.2)
    conn.close()


async def test_reading_pauses_while_the_browser_side_is_behind(serve):
    """An endless body is not buffered without bound: past HIGH_WATER queued bytes the client
    stops reading, so the peer's writes back up in the kernel and its drain() waits."""
    written = 0
    backed_up = asyncio.Event()

    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"4000\r\n" + b"y" * 0x4000 + b"\r\n"
        while not writer.is_closing():
            writer.write(chunk)
            written += 0x4000
            try:
                await asyncio.wait_for(writer.drain(), 2)
            except TimeoutError:
                backed_up.set()
                await reader.read()
                return

    served = await serve(endless)
    conn = await served.connect()
    conn.begin(head_request=False)
    conn.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    await conn.head(5)
    await asyncio.wait_for(backed_up.wait(), 30)
    data, done = await conn.body(5)
    assert not done
    # What the client holds is bounded by its high-water mark plus one read, not by the
    # peer's writing (which went on until the kernel's buffers were full).
    assert len(data) <= HIGH_WATER + 1024 * 1024
    assert written > len(data)
    conn.close()


async def test_an_answer_sent_before_the_request_is_kept(serve):
    """A server that speaks first (`nc -l` fed by a script) may answer before the request goes
    out: what arrived while the connection was being set up is the answer, not lost."""

    async def speaks_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" + b"y\n" * 50000)
        await writer.drain()
        await reader.read()

    served = await serve(speaks_first)
    conn = await served.connect()
    while not conn.has_body():  # the head and some of the body are in before the request
        await asyncio.sleep(0.01)
    conn.begin(head_request=False)
    conn.write(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
    status, headers = await conn.head(5)
    data, _done = await conn.body(5)
    assert (status, headers) == (200, [(b"Content-Type", b"text/plain")])
    assert data.startswith(b"y\ny\n")
    conn.close()


async def test_a_second_answer_in_the_same_segment_never_replaces_the_first(serve):
    """A container that writes two answers at once to one request: the first is the answer,
    with its own status and headers (before, the second's replaced them, and the browser got the
    first's body under the second's head), and the connection is not used again."""
    first = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Cual: primera\r\n\r\nAAAAA"
    second = (
        b"HTTP/1.1 203 Otra\r\nSet-Cookie: x=1; Domain=vista.localhost\r\n"
        b'Clear-Site-Data: "cookies"\r\nContent-Length: 9\r\n\r\ninyectada'
    )
    served = await serve(answers(first + second, keep_open=True))
    conn = await served.connect()
    status, headers, body = await exchange(conn)
    assert (status, body) == (200, b"AAAAA")
    assert headers == [(b"Content-Length", b"5"), (b"X-Cual", b"primera")]
    assert not conn.reusable()
    conn.close()
