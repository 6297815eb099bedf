"""A student of the deployed stack, reached only through its TLS proxy on loopback: HTTPS with
the certificate the stack made (checked, not ignored), the names a browser would use
(`muelle.localhost`, `<port>-<id>.vista.muelle.localhost`) sent as SNI and Host, and the
terminal's websocket over wss."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import re
import secrets
import socket
import ssl
import time
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect


@dataclass
class Stack:
    work: Path
    domain: str
    port: int
    http_port: int
    engine_socket: str
    # deploy/test-deploy.sh's environment: `test-deploy.sh compose ...` reaches this stack.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return f"https://{self.domain}:{self.port}"

    def tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.work / "tls" / "muelle.crt"))


class LoopbackHTTPS(http.client.HTTPSConnection):
    """HTTPS to a name that only the proxy on 127.0.0.1 knows: connect to loopback, present
    the name (SNI, certificate check, Host)."""

    def connect(self) -> None:
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: str


def students_engine_names(name: str, bridge: str, net: int) -> dict[str, str]:
    """The settings of a students' engine (deploy/students-engine/) that no other run on this
    machine uses: its own name and bridge, and subnets picked by `net` (1-250)."""
    return {
        "MUELLE_ENGINE_NAME": name,
        "MUELLE_ENGINE_BRIDGE": bridge,
        "MUELLE_ENGINE_BIP": f"10.241.{net}.1/24",
        "MUELLE_ENGINE_ADDRESS_POOL": f"base=10.{242 + net % 8}.0.0/16,size=24",
    }


def get(stack: Stack, path: str, host: str | None = None, cookie: str = "") -> Response:
    conn = LoopbackHTTPS(host or stack.domain, stack.port, timeout=60, context=stack.tls())
    conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
    answer = conn.getresponse()
    response = Response(answer.status, answer.headers, answer.read().decode(errors="replace"))
    conn.close()
    return response


class Student:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        page = get(stack, "/lecciones/que-es-docker/")
        assert page.status == 200, page.body[:300]
        cookies = [c.split(";")[0] for c in page.headers.get_all("Set-Cookie") or []]
        sessions = [c for c in cookies if c.startswith("__Host-sessionid=")]
        routes = [c for c in cookies if c.startswith("__Host-muelle_ruta=")]
        assert sessions and routes, cookies
        # The route cookie (tutorial/route_cookie.py) is what the proxy hashes: with it, the
        # terminal goes to the process that serves this student's previews.
        self.route = routes[0].split("=", 1)[1]
        self.cookie = f"{sessions[0]}; {routes[0]}"
        self.ws: ClientConnection | None = None
        self.status: int | None = None  # exit status of the last shell() command
        # The terminal's tab, as the page names it: a reconnect with it finds the same shell.
        self.tab = secrets.token_hex(12)

    async def open_terminal(self) -> ClientConnection:
        sock = socket.create_connection(("127.0.0.1", self.stack.port), 30)
        ws = await connect(
            f"wss://{self.stack.domain}:{self.stack.port}/ws/terminal/?t={self.tab}",
            sock=sock,
            ssl=self.stack.tls(),
            server_hostname=self.stack.domain,
            origin=self.stack.origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": self.cookie},
            open_timeout=120,
            max_size=2**20,
        )
        while True:
            frame = await asyncio.wait_for(ws.recv(), 120)
            if isinstance(frame, str) and '"ready"' in frame:
                return ws

    async def shell(self, command: str, timeout: float = 120) -> str:
        """Types `command` in the terminal and returns what it printed, with its exit status
        in a marker the echo of the typed line cannot match."""
        if self.ws is None:
            self.ws = await self.open_terminal()
        marker = f"FIN{time.monotonic_ns()}"
        await self.ws.send(f"{command}; echo {marker[:3]}''{marker[3:]}-$?\r".encode())
        seen = b""
        pattern = re.compile(rf"{marker}-(\d+)".encode())
        while not (found := pattern.search(seen)):
            frame = await asyncio.wait_for(self.ws.recv(), timeout)
            if isinstance(frame, bytes):
                seen += frame
        self.status = int(found.group(1))
        return seen.decode(errors="replace")

    async def reconnect(self) -> None:
        """What the page does when its websocket drops: the same tab, a new connection."""
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 10)
        self.ws = await self.open_terminal()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
