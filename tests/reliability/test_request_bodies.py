"""Request bodies against the real server (python -m tutorial.server): capped in size before they
are read and cut in time, by the app itself (tutorial.body_limits), whatever is in front of it."""

from __future__ import annotations

import os
import select
import socket
from pathlib import Path

import pytest

from harness.raw_http import (
    closed_by_peer,
    csrf_headers,
    head,
    read_response,
    request,
    trickle_post,
)

pytestmark = [pytest.mark.docker]

CAP = 64 * 1024  # HTTP_MAX_BODY for these tests
HUNDRED_MB = 100 * 1024 * 1024
LESSON = "/lecciones/que-es-docker/"


def open_fds_under(pid: int, folder: Path) -> list[str]:
    """Files the process holds open inside `folder` (a spooled body would be one)."""
    found = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith(str(folder)):
            found.append(target)
    return found


@pytest.fixture
def server(live, tmp_path):  # noqa: ANN001, ANN201
    spool = tmp_path / "spool"
    spool.mkdir()
    live_server = live(HTTP_MAX_BODY=str(CAP), HTTP_BODY_TIMEOUT="2", TMPDIR=str(spool))
    live_server.spool = spool
    return live_server


def test_a_declared_100_mb_body_is_refused_413_before_any_byte_is_read(server):
    """Pass: the head declares 100 MB; the 413 (Spanish, plain text, from the body limit and not
    Django's CSRF 403) comes back before a single body byte is sent, and the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        headers = {**csrf_headers(), "Content-Length": str(HUNDRED_MB)}
        sock.sendall(head("POST", "/sandbox/sesion/", server.port, headers))
        response = read_response(sock)
        assert closed_by_peer(sock)
    assert response.status == 413
    assert "demasiado grande" in response.body.decode()
    assert response.header("connection") == "close"
    assert open_fds_under(server.process.pid, server.spool) == []
    assert list(server.spool.iterdir()) == []


def test_a_chunked_body_is_cut_once_over_the_cap_and_nothing_is_spooled(server):
    """Pass: a chunked body sent without end is answered 413 and the connection closed before
    32 MiB were sent (loopback socket buffers hold a few MiB; the cap is 64 KiB), while the server
    holds no file in its temporary folder; the next request is served."""
    sent = 0
    held: list[str] = []
    chunk = b"x" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        headers = {**csrf_headers(), "Transfer-Encoding": "chunked"}
        sock.sendall(head("POST", "/sandbox/sesion/", server.port, headers))
        sock.setblocking(False)
        while sent < HUNDRED_MB:
            readable, writable, _ = select.select([sock], [sock], [], 10)
            held += open_fds_under(server.process.pid, server.spool)
            if readable:
                break
            if not writable:
                continue
            try:
                sent += sock.send(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
        sock.setblocking(True)
        response = read_response(sock)
        assert closed_by_peer(sock)
    print(f"chunked body: answered after {sent / 2**20:.1f} MiB sent (cap {CAP // 1024} KiB)")
    assert response.status == 413
    assert sent < 32 * 2**20, sent
    assert held == []
    assert request(server.port, "GET", LESSON).status == 200


def test_a_body_trickled_byte_by_byte_is_cut_with_408(server):
    """Pass: a 100-byte body sent a byte every 0.5 s (HTTP_BODY_TIMEOUT 2 s) gets a 408 and a
    closed connection before it is complete; a normal post meanwhile gets past the limit to
    Django (which answers it)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sent = trickle_post(sock, server.port, "/sandbox/sesion/", 100, every=0.5)
        response = read_response(sock)
        assert closed_by_peer(sock)
    assert response.status == 408
    assert "tardó demasiado" in response.body.decode()
    assert sent < 100
    # A complete small body reaches Django: CSRF-checked and served (a session, 204).
    assert request(server.port, "POST", "/sandbox/sesion/", csrf_headers()).status == 204


def test_a_body_within_the_cap_reaches_django(server):
    """Pass: a 60 KiB form post without a CSRF token gets Django's own 403 (the body went
    through), and with the token the session view answers 204."""
    body = b"a=" + b"x" * (60 * 1024)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    refused = request(server.port, "POST", "/sandbox/sesion/", form, body)
    accepted = request(server.port, "POST", "/sandbox/sesion/", {**form, **csrf_headers()}, body)
    assert refused.status == 403
    assert accepted.status == 204
