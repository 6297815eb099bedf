"""What a student's container, or someone else, tries through a preview: an endless answer, a
websocket flood, absolute-form request targets, and looking for the port on the server itself.
Every case ends with the server still answering and nothing of the student's bound on it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from harness import preview_client
from harness.live_server import LiveServer
from harness.preview_client import (
    LISTEN_ON_80,
    Student,
    body,
    live_server_fixture,
    request,
    serve,
    wait_for_page,
)

pytestmark = [pytest.mark.docker]

# A websocket echo server in the standard library of the course's python image: handshake, then
# every text frame back (enough to carry a flood through the preview).
WS_ECHO = (
    LISTEN_ON_80
    + r"""
import base64, hashlib, struct
while True:
    c, _ = s.accept(); f = c.makefile("rb")
    key = ""
    while (line := f.readline().decode().strip()):
        if line.lower().startswith("sec-websocket-key:"): key = line.split(":", 1)[1].strip()
    magic = (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()
    accept = base64.b64encode(hashlib.sha1(magic).digest()).decode()
    c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: " + accept + "\r\n\r\n").encode())
    try:
        while True:
            b1, b2 = f.read(2); n = b2 & 127
            if n == 126: n = struct.unpack(">H", f.read(2))[0]
            elif n == 127: n = struct.unpack(">Q", f.read(8))[0]
            mask = f.read(4); data = bytes(x ^ mask[i % 4] for i, x in enumerate(f.read(n)))
            if b1 & 15 == 8: break
            head = bytes([0x81, n]) if n < 126 else bytes([0x81, 126]) + struct.pack(">H", n)
            c.sendall(head + data)
    except Exception:
        pass
    c.close()
"""
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from live_server_fixture(tmp_path_factory)


def held_by_a_process(server_port: int, client_port: int) -> bool:
    """Whether some process still holds the server's end of the connection from `client_port`
    (an inode in /proc/net/tcp); a socket its process dropped is an orphan (inode 0) the kernel
    winds down on its own."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if (
            int(local.split(":")[1], 16) == server_port
            and int(remote.split(":")[1], 16) == client_port
        ):
            return inode != "0"
    return False


def nothing_on_the_server(port: int) -> bool:
    """True when nothing listens on the server's own loopback on `port`."""
    with socket.socket() as probe:
        probe.settimeout(2)
        return probe.connect_ex(("127.0.0.1", port)) != 0


async def test_a_published_port_is_never_bound_on_the_server(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 18086, "nada-fuera"))
    host, cookie = await asyncio.to_thread(ana.enter, 18086)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-nada-fuera")
    assert nothing_on_the_server(18086)


async def test_an_endless_answer_is_cut_when_the_browser_leaves(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(
        "docker run -d -m 32m --name sinfin -p 8087:80 muelle/busybox sh -c "
        '\'(printf "HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n"; yes) '
        "| nc -l -p 80' && until docker exec sinfin netstat -ltn | grep -q ':80 '; "
        "do sleep 0.1; done"
    )
    host, cookie = await asyncio.to_thread(ana.enter, 8087)
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(f"GET / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n\r\n".encode())
    await writer.drain()
    received = 0
    while received < 1024 * 1024:
        chunk = await asyncio.wait_for(reader.read(65536), 30)
        assert chunk, "the stream ended by itself"
        received += len(chunk)
    writer.close()
    # The proxy closes its side: the container's writer gets a broken pipe and nc ends.
    assert "estado=exited" in await ana.wait_for_state("sinfin", "exited")
    assert (await asyncio.to_thread(request, server, "GET", "/", {})).status == 200


@pytest.mark.parametrize(("method", "host_port"), [("GET", 8088), ("POST", 8089)])
async def test_an_endless_answer_to_a_browser_that_stops_reading_is_cut(server, method, host_port):
    """A browser that stops reading (a tiny receive window, nothing read) holds the answer only
    for PREVIEW_IDLE_SECONDS (2 here): then the proxy gives up its connection and the
    container's, and the container's writer ends. Before, both were held for as long as the
    browser kept its socket open. GET goes by the server's direct path, POST (with a body) by
    the ASGI app."""
    ana = await asyncio.to_thread(Student, server)
    name = f"atasco{host_port}"
    await ana.shell(
        f"docker run -d -m 32m --name {name} -p {host_port}:80 muelle/busybox sh -c "
        '\'(printf "HTTP/1.1 200 OK\\r\\nContent-Type: text/plain\\r\\n\\r\\n"; yes) '
        f"| nc -l -p 80' && until docker exec {name} netstat -ltn | grep -q ':80 '; "
        "do sleep 0.1; done"
    )
    host, cookie = await asyncio.to_thread(ana.enter, host_port)
    stuck = socket.socket()
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stuck.connect(("127.0.0.1", server.port))
    length = "Content-Length: 2\r\n" if method == "POST" else ""
    stuck.sendall(
        f"{method} / HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n{length}\r\n".encode()
        + (b"hi" if method == "POST" else b"")
    )
    try:
        out = ""
        for _ in range(150):
            out = await ana.shell(f"docker inspect -f 'estado={{{{.State.Status}}}}' {name}")
            if "estado=exited" in out:
                break
            await asyncio.sleep(0.2)
        assert "estado=exited" in out
        # The server let go of the browser's socket too: dropped, not closed in order, which
        # would keep it (its descriptor, its buffer) until the browser reads what is buffered.
        port = stuck.getsockname()[1]
        for _ in range(150):
            if not held_by_a_process(server.port, port):
                break
            await asyncio.sleep(0.2)
        assert not held_by_a_process(server.port, port)
    finally:
        stuck.close()
    assert (await asyncio.to_thread(request, server, "GET", "/", {})).status == 200


async def test_websockets_go_through_and_a_flood_is_held_to_the_rate(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(preview_client.serve_python("eco", 8088, WS_ECHO))
    host, cookie = await asyncio.to_thread(ana.enter, 8088)
    async with ws_connect(
        f"ws://{host}/eco",
        sock=socket.create_connection(("127.0.0.1", server.port)),
        additional_headers={"Cookie": cookie},
        open_timeout=30,
    ) as ws:
        await ws.send("hola")
        assert await asyncio.wait_for(ws.recv(), 30) == "hola"
        # A flood: 2,000 messages sent as fast as the client can. They arrive, in order, and the
        # server keeps answering its own pages meanwhile.
        for number in range(2000):
            await ws.send(f"m{number}")
        seen = [await asyncio.wait_for(ws.recv(), 60) for _ in range(2000)]
        assert seen == [f"m{n}" for n in range(2000)]
    assert (await asyncio.to_thread(request, server, "GET", "/", {})).status == 200
    # Without the cookie, the same websocket is refused.
    with pytest.raises((ConnectionClosed, Exception)):  # noqa: B017 - refused at handshake
        async with ws_connect(
            f"ws://{host}/eco",
            sock=socket.create_connection(("127.0.0.1", server.port)),
            open_timeout=30,
        ) as ws:
            await asyncio.wait_for(ws.recv(), 10)


async def test_absolute_form_targets_never_cross_between_muelle_and_a_preview(server):
    ana = await asyncio.to_thread(Student, server)
    await ana.shell(serve("web", 8089, "absoluta"))
    host, cookie = await asyncio.to_thread(ana.enter, 8089)
    await asyncio.to_thread(wait_for_page, server, host, cookie, "pagina-de-absoluta")

    async def raw(target: str, host_header: str, extra: str = "") -> str:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        head = f"GET {target} HTTP/1.1\r\nHost: {host_header}\r\n{extra}Connection: close\r\n\r\n"
        writer.write(head.encode())
        await writer.drain()
        data = await asyncio.wait_for(reader.read(-1), 30)
        writer.close()
        return data.decode(errors="replace")

    # A preview URL in the request line, Muelle's host in the header: Muelle answers (the Host
    # header decides), never the container.
    muelle = await raw(f"http://{host}/", f"127.0.0.1:{server.port}")
    assert "pagina-de-absoluta" not in muelle
    # Muelle's URL in the request line, the preview's host in the header, no cookie: refused by
    # the preview, never Muelle's page.
    preview = await raw(f"http://127.0.0.1:{server.port}/sandbox/puertos/", host)
    assert preview.startswith("HTTP/1.1 403")
    # With the cookie it is the container that answers that path, not Muelle.
    proxied = await raw(f"http://127.0.0.1:{server.port}/", host, f"Cookie: {cookie}\r\n")
    assert "pagina-de-absoluta" in proxied and "Puertos publicados" not in proxied
    assert "sessionid" not in body(
        await asyncio.to_thread(request, server, "GET", "/", {"Host": host})
    )
