"""A student of the real server, for the preview tests: their terminal, Muelle's pages with
their session, and the preview origin reached on loopback with the Host a browser would send."""

from __future__ import annotations

import asyncio
import http.client
import re
import shlex
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from harness.live_server import LiveServer, serving
from harness.tabs import new_terminal_id

if TYPE_CHECKING:  # the preview tests' fixture; the bench runs without pytest
    import pytest

# A page and a CGI script that echoes the Cookie header it got and tries to set a cookie for
# every preview host. The script travels in an environment variable, so nothing is expanded by
# the student's shell on the way.
ECHO_SCRIPT = (
    "printf '%s\\n' '#!/bin/sh' 'echo Content-Type: text/plain' "
    "'echo \"Set-Cookie: app=1; Domain=vista.localhost\"' 'echo' "
    "'echo \"COOKIE=$HTTP_COOKIE\"' > ~/eco.sh"
)
SERVE = (
    "mkdir -p /tmp/w/cgi-bin && echo pagina-de-$NAME > /tmp/w/index.html && "
    'printf "%s\\n" "$CGI" > /tmp/w/cgi-bin/eco && chmod +x /tmp/w/cgi-bin/eco && '
    "exec httpd -f -p 80 -h /tmp/w"
)


def serve(name: str, host_port: int, page: str) -> str:
    """The student's command that starts a web container publishing `host_port`."""
    return (
        f"{ECHO_SCRIPT} && docker run -d -m 32m --name {name} -p {host_port}:80 "
        f"-e NAME={page} -e CGI=\"$(cat ~/eco.sh)\" muelle/busybox sh -c '{SERVE}' >/dev/null"
    )


# The start of a test's Python server program (for serve_python): `s` listens on port 80, where
# the container's port is published.
LISTEN_ON_80 = """\
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 80)); s.listen(8)
"""


def serve_python(name: str, host_port: int, code: str) -> str:
    """The student's command that runs `code` (a Python server on port 80, standard library only)
    in a container publishing `host_port`, and waits until it listens. The code travels in an
    environment variable, quoted once, so the student's shell expands nothing in it."""
    return (
        f"docker run -d -m 64m --name {name} -p {host_port}:80 -e CODE={shlex.quote(code)} "
        "python:3.11-slim python -c 'import os; exec(os.environ[\"CODE\"])' >/dev/null && "
        f"until docker exec {name} python -c "
        "'import socket; socket.create_connection((\"127.0.0.1\", 80))' 2>/dev/null; "
        "do sleep 0.2; done"
    )


def live_server_fixture(
    tmp_path_factory: pytest.TempPathFactory, name: str = "preview", **env: str
) -> Iterator[LiveServer]:
    """A module's preview server: no warm pool, a short idle time (both overridable), `env`."""
    settings = {"SANDBOX_WARM_POOL": "0", "PREVIEW_IDLE_SECONDS": "2", **env}
    yield from serving(tmp_path_factory.mktemp(name), name, **settings)


class Student:
    def __init__(self, server: LiveServer) -> None:
        self.server = server
        self.cookie = server.session_cookie()
        self.ws = None

    async def shell(self, command: str, timeout: float = 90) -> str:
        if self.ws is None:
            self.ws = await self.server.open_terminal(self.cookie, new_terminal_id())
        marker = f"FIN{time.monotonic_ns()}"
        await self.ws.send(f"{command}; echo {marker[:3]}''{marker[3:]}-$?\r".encode())
        seen = b""
        pattern = re.compile(rf"{marker}-(\d+)".encode())
        while not pattern.search(seen):
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            if isinstance(frame, bytes):
                seen += frame
        return seen.decode(errors="replace")

    async def wait_for_state(
        self, container: str, state: str, *, tries: int = 100, pause: float = 0.2
    ) -> str:
        """Asks `docker inspect` in the terminal until `container`'s state is `state` (or the
        tries run out); what the last answer printed, for the caller's assertion."""
        out = ""
        for _ in range(tries):
            out = await self.shell(f"docker inspect -f 'estado={{{{.State.Status}}}}' {container}")
            if f"estado={state}" in out:
                break
            await asyncio.sleep(pause)
        return out

    def main(self, path: str) -> http.client.HTTPResponse:
        return request(self.server, "GET", path, {"Cookie": self.cookie})

    def preview_entry(self, host_port: int) -> tuple[str, str]:
        """(preview Host header, entry path) from the «Abrir» link."""
        response = self.main(f"/sandbox/puertos/{host_port}/abrir/")
        assert response.status == 302, response.read()
        location = urlsplit(response.getheader("Location"))
        preview_host = self.server.env.get("PREVIEW_HOST", "vista.localhost")
        assert location.hostname and location.hostname.endswith(f".{preview_host}")
        return location.netloc, f"{location.path}?{location.query}"

    def enter(self, host_port: int) -> tuple[str, str]:
        """Follows «Abrir»: (preview Host, the preview cookie it set)."""
        host, entry = self.preview_entry(host_port)
        response = request(self.server, "GET", entry, {"Host": host})
        assert response.status == 303
        cookie = response.getheader("Set-Cookie")
        assert cookie and "HttpOnly" in cookie and "Domain" not in cookie
        return host, cookie.split(";")[0]


def request(
    server: LiveServer, method: str, path: str, headers: dict[str, str], body: bytes | None = None
) -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    response.read_body = response.read()  # type: ignore[attr-defined]
    conn.close()
    return response


def body(response: http.client.HTTPResponse) -> str:
    return response.read_body.decode(errors="replace")  # type: ignore[attr-defined]


def wait_for_page(server: LiveServer, host: str, cookie: str, text: str) -> str:
    for _ in range(60):
        response = request(server, "GET", "/", {"Host": host, "Cookie": cookie})
        if response.status == 200 and text in body(response):
            return body(response)
        time.sleep(0.2)
    raise AssertionError(f"the preview never showed {text!r}: {body(response)[:300]}")
