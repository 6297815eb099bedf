"""One connection, several requests: the CLI reuses the `HEAD /_ping` connection for its next
request, and a hostile client may pipeline. Every request must be answered in order, or refused
with an HTTP error; never executed with its answer dropped."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid

import pytest
import uvloop

from sandbox.gateway import lifecycle

from .conftest import IMAGE

pytestmark = pytest.mark.docker


class RawConnection:
    """A unix-socket HTTP/1.1 client that reads answers one by one from a shared buffer."""

    def __init__(self, path) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(60)
        self.sock.connect(str(path))
        self.file = self.sock.makefile("rb")

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def response(self, method: str = "GET") -> tuple[int, dict[str, str], bytes] | None:
        """The next answer, or None if the gateway closed the connection instead."""
        line = self.file.readline()
        if not line:
            return None
        status = int(line.split()[1])
        headers: dict[str, str] = {}
        while (line := self.file.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = b"" if method == "HEAD" else self.file.read(length)
        return status, headers, body

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def request(method: str, path: str, body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: docker\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


@pytest.fixture
def uvloop_student(gateway_config):
    """A student served on a uvloop event loop, as uvicorn serves Muelle in production (its
    callback order is what made the race below show up at all)."""
    loop = uvloop.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def run(coro):
        return asyncio.run_coroutine_threadsafe(coro, loop).result(60)

    owner = uuid.uuid4().hex
    folder = run(lifecycle.open_gateway(owner))
    try:
        yield run, folder / lifecycle.SOCKET_NAME
    finally:
        run(lifecycle.close_gateway(owner, cleanup=True))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_the_ping_connection_is_reused_like_the_cli_does(uvloop_student):
    # The CLI sends `HEAD /_ping`, reads the answer and at once sends its next request on the
    # same connection. The gateway's watch for "the client went away" took the first byte of
    # that request as such and closed the connection: `docker run` failed with EOF in about
    # one fresh terminal of six. The gateway shares the ASGI loop with terminals: a task that
    # keeps that loop busy (as terminal output does) stands for them here.
    run, path = uvloop_student
    busy = run(_start_busy_task())
    conn = RawConnection(path)
    try:
        for _ in range(200):
            conn.send(request("HEAD", "/_ping"))
            answer = conn.response("HEAD")
            assert answer is not None and answer[0] == 200
            conn.send(request("GET", "/v1.41/version"))
            answer = conn.response()
            assert answer is not None, "the gateway closed a reused keep-alive connection"
            assert answer[0] == 200
            assert "ApiVersion" in json.loads(answer[2])
    finally:
        conn.close()
        busy.get_loop().call_soon_threadsafe(busy.cancel)


async def _start_busy_task() -> asyncio.Task:
    async def busy() -> None:
        while True:
            time.sleep(0.002)  # blocking on purpose: a loop iteration that takes a while
            await asyncio.sleep(0)

    return asyncio.get_running_loop().create_task(busy())


def test_pipelined_requests_are_all_answered_in_order(student):
    create = json.dumps({"Image": IMAGE, "Cmd": ["true"]}).encode()
    conn = RawConnection(student.socket)
    try:
        conn.send(
            request("POST", "/v1.41/containers/create?name=uno", create)
            + request("POST", "/v1.41/containers/create?name=dos", create)
            + request("GET", "/v1.41/containers/json?all=1")
        )
        first, second, listing = conn.response(), conn.response(), conn.response()
    finally:
        conn.close()
    assert first is not None and first[0] == 201, first
    assert second is not None and second[0] == 201, second
    assert listing is not None and listing[0] == 200
    names = sorted(c["Names"][0] for c in json.loads(listing[2]))
    assert names == ["/dos", "/uno"]
    ids = {json.loads(first[2])["Id"], json.loads(second[2])["Id"]}
    assert {c["Id"] for c in json.loads(listing[2])} == ids


def test_a_request_pipelined_behind_a_body_is_answered_too(student):
    conn = RawConnection(student.socket)
    try:
        conn.send(
            request("POST", "/v1.41/volumes/create", b'{"Name": "datos"}')
            + request("HEAD", "/_ping")
            + request("GET", "/v1.41/volumes/datos")
        )
        created, ping, inspected = conn.response(), conn.response("HEAD"), conn.response()
    finally:
        conn.close()
    assert created is not None and created[0] == 201, created
    assert ping is not None and ping[0] == 200
    assert inspected is not None and inspected[0] == 200
    assert json.loads(inspected[2])["Name"] == "datos"


def test_a_client_that_leaves_mid_stream_is_noticed(student):
    # The watch for a client going away must still work: `logs -f` of a container that prints
    # nothing ends when its student closes the connection (its connection slot is freed).
    student.raw_started(["sleep", "60"], name="quieto")
    gateway = lifecycle.serving(student.folder)
    assert gateway is not None
    conn = RawConnection(student.socket)
    conn.send(request("GET", "/v1.41/containers/quieto/logs?follow=1&stdout=1"))
    answer = conn.response()
    assert answer is not None and answer[0] == 200
    assert gateway.connections == 1
    conn.close()
    for _ in range(100):
        if gateway.connections == 0:
            break
        time.sleep(0.1)
    assert gateway.connections == 0
    assert student.raw("GET", "/_ping")[0] == 200


def test_a_body_framed_two_ways_is_refused_with_an_http_error(student):
    # "0x5" is 5 for Python's int(), an error for Go: where this body ends is not agreed, so
    # the request is answered 400 and nothing after it on this connection is read.
    conn = RawConnection(student.socket)
    try:
        conn.send(
            b"POST /v1.41/volumes/create HTTP/1.1\r\nHost: docker\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"0x5\r\n{}   \r\n0\r\n\r\n" + request("POST", "/v1.41/volumes/create", b"{}")
        )
        answer = conn.response()
        assert answer is not None and answer[0] == 400
        assert "Petición HTTP no válida" in json.loads(answer[2])["message"]
        assert answer[1].get("connection") == "close"
        assert conn.response() is None
    finally:
        conn.close()
    assert student.engine_objects()["volumes"] == []
