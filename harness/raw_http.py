"""Raw HTTP/1.1 over a socket, as a hostile client writes it (no client library smoothing it)."""

from __future__ import annotations

import secrets
import select
import socket
from dataclasses import dataclass, field


@dataclass
class Response:
    status: int
    headers: dict[str, list[str]] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        values = self.headers.get(name.lower())
        return values[-1] if values else None


def csrf_headers() -> dict[str, str]:
    """A CSRF cookie and header pair: all a script needs to post (it is not a secret)."""
    token = secrets.token_hex(16)  # 32 characters, Django's secret length
    return {"Cookie": f"csrftoken={token}", "X-CSRFToken": token}


def head(method: str, path: str, port: int, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_response(sock: socket.socket, timeout: float = 30) -> Response:
    """One response (head + a Content-Length body) from `sock`."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed before a response head: {data!r}")
        data += chunk
    raw_head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = raw_head.decode("latin-1").split("\r\n")
    response = Response(int(status_line.split()[1]))
    for line in header_lines:
        name, _, value = line.partition(":")
        response.headers.setdefault(name.strip().lower(), []).append(value.strip())
    if response.header("transfer-encoding") == "chunked":
        while not body.endswith(b"0\r\n\r\n") and (chunk := sock.recv(65536)):
            body += chunk
        response.body = dechunk(body)
        return response
    length = int(response.header("content-length") or 0)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    response.body = body
    return response


def dechunk(data: bytes) -> bytes:
    out = b""
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2 :]
    return out


def closed_by_peer(sock: socket.socket, timeout: float = 30) -> bool:
    """True once the server has closed the connection (EOF or reset), reading what is left."""
    sock.settimeout(timeout)
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False
    return True


def request(
    port: int, method: str, path: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Response:
    headers = dict(headers or {})
    if body or method == "POST":
        headers.setdefault("Content-Length", str(len(body)))
    headers.setdefault("Connection", "close")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head(method, path, port, headers) + body)
        return read_response(sock)


def trickle_post(sock: socket.socket, port: int, path: str, length: int, every: float) -> int:
    """A POST of `path` (with a CSRF pair) whose declared `length`-byte body comes a byte every
    `every` seconds, as a slow client sends it; stops as soon as the server answers or closes.
    Returns how many body bytes went out."""
    sock.sendall(head("POST", path, port, {**csrf_headers(), "Content-Length": str(length)}))
    sent = 0
    while sent < length:
        try:
            sock.sendall(b"x")
        except (BrokenPipeError, ConnectionResetError):
            break
        sent += 1
        if select.select([sock], [], [], every)[0]:
            break
    return sent


def closed_by_server(sock: socket.socket, within: float) -> bool:
    """Whether the server ends the connection (or answers a 4xx) within `within` seconds."""
    sock.settimeout(within)
    try:
        data = sock.recv(65536)
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return data == b"" or data.startswith(b"HTTP/1.1 4")
