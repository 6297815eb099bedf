"""Faults of the real server process: tutorial.server (uvicorn) serving tutorial.asgi in a
subprocess (as scripts/serve runs it) with its own SQLite file and SANDBOX_INSTANCE, killed,
stopped and disconnected for real."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from harness.live_server import LiveServer, instance_containers, remove_containers
from harness.raw_http import closed_by_server
from harness.tabs import new_terminal_id

pytestmark = [pytest.mark.docker]

LESSON = "/lecciones/que-es-docker/"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    live = LiveServer(tmp_path / "db.sqlite3", f"pytest-live-{os.getpid()}-{time.monotonic_ns()}")
    live.migrate()
    yield live
    live.stop()
    remove_containers(live.instance)


async def shell_pid(ws: ClientConnection, marker: str) -> str:
    """Types `echo $$` framed by a marker and returns the shell's PID."""
    await ws.send(f"echo {marker[:2]}''{marker[2:]}$$:\r".encode())
    seen = b""
    while marker.encode() not in seen or not seen.split(marker.encode())[-1].count(b":"):
        frame = await asyncio.wait_for(ws.recv(), 30)
        if isinstance(frame, bytes):
            seen += frame
    return seen.split(marker.encode())[-1].split(b":")[0].decode()


def wait_until_no_containers(instance: str, within: float) -> float | None:
    """Seconds until `instance` has no container left, or None if some remain after `within`."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if not instance_containers(instance):
            return time.monotonic() - started
        time.sleep(0.2)
    return None


def progress_rows(live: LiveServer) -> str:
    return live.manage(
        "shell",
        "-c",
        "from exercises.models import ExerciseProgress as P;"
        "print(sorted(P.objects.values_list('anonymous_key', 'exercise_id', 'attempts')))",
    ).stdout.strip()


async def test_after_kill_9_a_restart_leaves_no_orphan_and_keeps_progress(server: LiveServer):
    """Pass: with a live terminal, kill -9 of the server leaves its container behind (the fault
    is real); `prune_sandboxes --all` + restart (what scripts/serve does) leaves no container of
    that instance within 60 s, and the progress rows written before are unchanged."""
    server.manage(
        "shell",
        "-c",
        "from exercises.models import ExerciseProgress as P;"
        "P.objects.create(anonymous_key='alumna', lesson_slug='l', exercise_id='e', attempts=3)",
    )
    before = progress_rows(server)
    assert "'alumna', 'e', 3" in before
    server.start()
    ws = await server.open_terminal(server.session_cookie(), new_terminal_id())
    assert (await shell_pid(ws, "PID-")).isdigit()

    server.kill()
    assert instance_containers(server.instance), "kill -9 should leave the container behind"

    server.manage("prune_sandboxes", "--all")
    server.start()
    took = wait_until_no_containers(server.instance, within=60)
    assert took is not None, instance_containers(server.instance)
    assert progress_rows(server) == before
    # The restarted server serves a new terminal.
    ws2 = await server.open_terminal(server.session_cookie(), new_terminal_id())
    assert (await shell_pid(ws2, "PID-")).isdigit()
    await ws2.close()


async def sigterm_with_a_busy_terminal(server: LiveServer) -> int | None:
    """Starts the server, opens a terminal running `sleep 1000`, sends SIGTERM; returns the close
    code the client saw, once the process has exited by itself (bench/hostile_long.py prints how
    long that takes)."""
    server.start()
    ws = await server.open_terminal(server.session_cookie(), new_terminal_id())
    await ws.send(b"sleep 1000\r")
    assert instance_containers(server.instance)

    server.process.send_signal(15)  # SIGTERM
    with pytest.raises(Exception):  # noqa: B017 - the close is the point, whatever its class
        while True:
            await asyncio.wait_for(ws.recv(), 30)
    await asyncio.to_thread(server.process.wait, 30)  # a watchdog: a hung server fails here
    return ws.close_code


async def test_sigterm_closes_terminals_as_going_away_and_exits(server: LiveServer):
    """Pass: SIGTERM with a busy terminal open closes the websocket as "going away" and the
    process exits by itself, cleanly (not killed by its graceful-shutdown budget running out)."""
    code = await sigterm_with_a_busy_terminal(server)
    # uvicorn closes with 1012 ("service restart") on shutdown, not 1001; the page treats both
    # alike (docs/terminal-protocol.md: reconnect by itself, with backoff).
    assert code in {1001, 1012}, code
    # Exited by itself (uvicorn re-raises the SIGTERM once it has shut down), and within its
    # graceful-shutdown budget: uvicorn logs an error when that runs out and it cancels tasks.
    assert server.process.returncode in {0, -15}, server.process.returncode
    assert "graceful shutdown exceeded" not in server.log.read_text()


async def test_sigterm_removes_the_servers_containers_before_it_exits(server: LiveServer):
    """Pass: once the process has exited after SIGTERM no container of the instance is left: the
    websocket's 1012 ends the student's sandbox at once (no reconnect grace) and the server waits
    for its removal, and the lifespan shutdown removes whatever else the process held, before the
    process exits."""
    await sigterm_with_a_busy_terminal(server)
    assert server.process.returncode is not None
    assert instance_containers(server.instance) == []


async def test_a_dropped_connection_reconnects_to_the_same_shell(server: LiveServer):
    """Pass: after the TCP connection is cut without a close frame and 5 s pass, reconnecting
    with the same session and terminal id gives the same shell (same `echo $$`)."""
    server.start()
    cookie = server.session_cookie()
    terminal_id = new_terminal_id()
    ws = await server.open_terminal(cookie, terminal_id)
    pid = await shell_pid(ws, "PID-")

    ws.transport.abort()  # the network goes: no close frame, no FIN handshake
    await asyncio.sleep(5)

    again = await server.open_terminal(cookie, terminal_id)
    assert await shell_pid(again, "OTRO-") == pid
    await again.close()


def slow_clients(port: int, count: int) -> list[socket.socket]:
    """Half a request each (slowloris), plus as many connections that never send a byte."""
    socks = []
    for n in range(count):
        half = socket.create_connection(("127.0.0.1", port), timeout=5)
        half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Lento-%d: " % n)
        socks.append(half)
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=5))
    return socks


def test_normal_requests_succeed_while_slow_clients_hold_connections(server: LiveServer):
    """Pass: with 100 half-open connections held (50 half-sent requests, 50 silent), a complete
    request still gets its 200 and a websocket-free page still loads."""
    server.start()
    socks = slow_clients(server.port, 50)
    try:
        for _ in range(3):
            with urllib.request.urlopen(server.url + LESSON, timeout=30) as response:  # noqa: S310
                assert response.status == 200
    finally:
        for sock in socks:
            sock.close()


def test_a_half_sent_request_is_closed_by_the_server(server: LiveServer):
    """Pass: a half-sent request and a silent connection are closed by the server within 8 s:
    tutorial.server's request-head timeout (5 s under LiveServer, 10 s by default) closes a
    connection whose request head is not complete in time; uvicorn alone never did."""
    server.start()
    half, silent = slow_clients(server.port, 1)
    try:
        assert closed_by_server(half, 8) and closed_by_server(silent, 1)
    finally:
        half.close()
        silent.close()


def read_response(sock: socket.socket) -> bytes:
    """One whole HTTP/1.1 response with a Content-Length (head and body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_a_slow_but_complete_request_and_keep_alive_requests_are_served(server: LiveServer):
    """Pass: a request head sent in pieces over 3 s (within the 5 s head timeout) gets its answer,
    and the same connection serves a second request; a third, half-sent one is then closed."""
    server.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for piece in (b"GET /sandbox/salud/ HTTP/1.1\r\n", b"Host: 127.0.0.1\r\n", b"\r\n"):
            sock.sendall(piece)
            time.sleep(1)
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /sandbox/salud/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Lento: ")
        assert closed_by_server(sock, 8)


async def test_a_terminal_outlives_the_request_head_timeout(server: LiveServer):
    """Pass: a websocket idle for longer than the head timeout (5 s here) still works: the timer
    belongs to the HTTP request that upgraded, not to the websocket."""
    server.start()
    ws = await server.open_terminal(server.session_cookie(), new_terminal_id())
    await asyncio.sleep(7)
    assert (await shell_pid(ws, "PID-")).isdigit()
    await ws.close()


async def test_the_warm_pool_fills_at_start_up_and_sigterm_removes_it(
    tmp_path: Path,
):
    """Pass: with no request at all, the server's start-up (ASGI lifespan) fills the warm pool;
    SIGTERM removes those containers before the process exits."""
    db = tmp_path / "db.sqlite3"
    live = LiveServer(db, f"pytest-live-{os.getpid()}-{time.monotonic_ns()}", SANDBOX_WARM_POOL="2")
    live.migrate()
    try:
        live.start()
        deadline = time.monotonic() + 30
        while len(instance_containers(live.instance)) < 2:
            assert time.monotonic() < deadline, "the warm pool did not fill at start-up"
            await asyncio.sleep(0.2)
        live.terminate()
        assert instance_containers(live.instance) == []
    finally:
        live.stop()
        remove_containers(live.instance)
