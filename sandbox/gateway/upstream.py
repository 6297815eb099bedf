"""An asyncio client for the real engine's unix socket: the gateway's own calls and forwarding.

No Docker SDK here: the SDK blocks, and the gateway runs on an event loop it must never block.
Every connection is opened for one request and closed after it (`Connection: close`): a unix
connect costs tens of microseconds, and it rules out any confusion between two requests.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sandbox.docker_api import node_tls

from .errors import EngineError
from .wire import (
    MAX_HEAD,
    Headers,
    ResponseHead,
    encode_request_head,
    read_body,
    read_response_head,
    response_framing,
)

API = "/v1.41"
MAX_INTERNAL_BODY = 64 * 1024 * 1024


@dataclass
class EngineConnection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    def close(self) -> None:
        self.writer.close()


@dataclass
class EngineResponse:
    status: int
    headers: Headers
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    @property
    def message(self) -> str:
        try:
            data = self.json()
        except ValueError:
            return self.body.decode(errors="replace").strip()
        if isinstance(data, dict) and isinstance(data.get("message"), str):
            return data["message"]
        return self.body.decode(errors="replace").strip()


class Upstream:
    """The real engine, reached through its unix socket; or, with `resolve`, the engine it names
    at each connection (unix://path or tcp://host:port): a student's sandbox on a Swarm node."""

    def __init__(
        self, socket_path: str, resolve: Callable[[], Awaitable[str]] | None = None
    ) -> None:
        self.socket_path = socket_path
        self.resolve = resolve

    async def address(self) -> str:
        """The engine this upstream reaches now (unix://path, a path, or a node's tcp://)."""
        return await self.resolve() if self.resolve is not None else self.socket_path

    async def connect(self) -> EngineConnection:
        address = await self.address()
        # A node's engine over tcp:// goes through Muelle's mutual-TLS relay when it is
        # configured (what stays tcp:// here is a test bed's explicit SANDBOX_SWARM_INSECURE_TCP).
        address = node_tls.local_address(address)
        if address.startswith("tcp://"):
            host, _, port = address.removeprefix("tcp://").rstrip("/").rpartition(":")
            reader, writer = await asyncio.open_connection(host, int(port), limit=MAX_HEAD)
        else:
            path = address.removeprefix("unix://")
            reader, writer = await asyncio.open_unix_connection(path, limit=MAX_HEAD)
        return EngineConnection(reader, writer)

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | dict[str, str] | None = None,
        body: Any = None,
        timeout: float | None = 60.0,
    ) -> EngineResponse:
        """One call with a JSON body (or none), answered in full. `path` excludes the version."""
        if isinstance(query, dict):
            query = list(query.items())
        payload = b"" if body is None else json.dumps(body).encode()
        headers = [("Connection", "close"), ("Content-Length", str(len(payload)))]
        if payload:
            headers.append(("Content-Type", "application/json"))
        conn = await self.connect()
        try:
            async with asyncio.timeout(timeout):
                conn.writer.write(encode_request_head(method, API + path, query, headers) + payload)
                await conn.writer.drain()
                head: ResponseHead = await read_response_head(conn.reader)
                data = await read_body(
                    conn.reader, response_framing(method, head), MAX_INTERNAL_BODY
                )
        finally:
            conn.close()
        return EngineResponse(head.status, head.headers, data)

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """A call that must succeed; EngineError (with the engine's message) otherwise."""
        response = await self.request(method, path, **kwargs)
        if response.status >= 400:
            raise EngineError(response.status, response.message)
        return response.json()

    async def get_or_none(self, path: str, **kwargs: Any) -> Any:
        """GET an object; None when the engine says 404."""
        response = await self.request("GET", path, **kwargs)
        if response.status == 404:
            return None
        if response.status >= 400:
            raise EngineError(response.status, response.message)
        return response.json()
