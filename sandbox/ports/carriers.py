"""How a connection reaches a published container's port: a socket made in its network namespace
(this server's engine), or a byte pipe through its node's engine API (a Swarm node elsewhere).

`NamespaceCarrier` is the local path (netns: the socket is made inside the container's namespace
through /proc/<pid>/ns/net). A container on another machine has no namespace here, and a process
id its engine reports names an unrelated process of this server: it must never be entered. So
for a container on a Swarm node `EngineCarrier` goes through that node's engine, which Muelle
reaches only over mutual TLS (sandbox/docker_api/node_tls.py), and opens nothing on the node:

- per published container, one small carrier container in its network and process namespaces
  (`network_mode=container:<id>`, `pid_mode=container:<id>`: it ends when the container does):
  the sandbox image (on every node already), sleeping, locked down like a sandbox (read-only,
  no capabilities, no-new-privileges, the sandbox user, tight memory and process limits),
  invisible to the student's CLI (it has none of their labels);
- per connection, an exec in it: bash opens <address>:<port> (`/dev/tcp`, as the local path
  connects to the same address from the same namespace), says so on stderr, and copies bytes
  both ways; the exec's hijacked stream is the pipe. Its output is Docker's multiplexed stream,
  so a socket pair stands between: the table gets one end, a plain connected socket like the
  local path's, and two tasks carry the other end to and from the exec.

Only the student's own containers get a carrier: the table creates one for a container it found
through the student's labels, and the carrier can only reach that container's namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import struct
from typing import Any

from django.conf import settings

from sandbox.gateway.errors import EngineError
from sandbox.gateway.upstream import API, Upstream
from sandbox.gateway.wire import ProtocolError, encode_request_head, read_response_head

from . import netns

logger = logging.getLogger(__name__)

LABEL_CARRIER = "muelle.port-carrier"  # on a carrier container: the container it serves
# Removals under way: asyncio keeps only weak references to tasks.
_removing: set[asyncio.Task[None]] = set()
CONNECTED = b"\x06"  # what the exec writes on stderr once its connection is open
CHUNK = 64 * 1024
# Opens the connection (fails, as a refused connect, if nothing listens), says so on stderr, and
# copies both ways until either side ends: the server's bytes to stdout, stdin to the server.
# A client's end (the table closed its socket) ends the exchange: the preview never half-closes.
CARRY = (
    'exec 3<>"/dev/tcp/$0/$1" || exit 1; printf "\\006" >&2; '
    "cat <&3 & r=$!; cat >&3 2>/dev/null <&0 & w=$!; wait -n; kill $r $w 2>/dev/null"
)


def carrier_body(joined_id: str, labels: dict[str, str]) -> dict[str, Any]:
    """The engine's create body of a carrier: the sandbox image idling, locked down, in the
    network and process namespaces of `joined_id`. Sharing its process namespace makes the
    kernel end the carrier with the container's first process, and AutoRemove removes it then,
    even if no web process is left to do it (a kill -9)."""
    return {
        "Image": settings.SANDBOX_IMAGE,
        "Cmd": ["sleep", "infinity"],
        "User": settings.SANDBOX_USER,
        "Labels": labels,
        "HostConfig": {
            "NetworkMode": f"container:{joined_id}",
            "PidMode": f"container:{joined_id}",
            "ReadonlyRootfs": True,
            "CapDrop": ["ALL"],
            "SecurityOpt": ["no-new-privileges"],
            # Room for the connections: a port carrier runs three processes for each (bash and
            # two cats), and the table allows at most 64.
            "Memory": 64 * 1024**2,
            "MemorySwap": 64 * 1024**2,
            "PidsLimit": 256,
            "AutoRemove": True,
        },
    }


class NamespaceCarrier:
    """Connections made inside a local container's network namespace."""

    kind = "netns"

    def __init__(self, namespace: netns.Namespace, address: str) -> None:
        self.namespace = namespace
        self.sockets = netns.ClientSockets(namespace, address)

    async def connect(self, address: str, port: int) -> socket.socket:
        """A socket connected to address:port; ConnectionRefusedError if nothing listens."""
        sock = await self.sockets.take()
        try:
            await asyncio.get_running_loop().sock_connect(sock, (address, port))
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        self.sockets.close()
        self.namespace.close()


class EngineCarrier:
    """Connections carried through the engine API of the node a container runs on."""

    kind = "engine"

    def __init__(self, engine: Upstream, carrier_id: str) -> None:
        self.engine = engine
        self.carrier_id = carrier_id
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    async def start(
        cls, engine: Upstream, container_id: str, volumes_from: str | None = None
    ) -> EngineCarrier:
        """The carrier container in `container_id`'s network namespace, started; with
        `volumes_from`, sharing the socket folder of the sandbox's loopback carrier
        (node_loopback: `curl localhost:PORT` in the sandbox)."""
        await remove_carriers(engine, container_id)  # one left by a process that died
        body = carrier_body(container_id, {LABEL_CARRIER: container_id})
        if volumes_from is not None:
            body["HostConfig"]["VolumesFrom"] = [f"{volumes_from}:rw"]
        created = await engine.json("POST", "/containers/create", body=body)
        carrier_id = str(created["Id"])
        try:
            await engine.json("POST", f"/containers/{carrier_id}/start")
        except BaseException:
            with contextlib.suppress(Exception):
                await _remove(engine, carrier_id)
            raise
        return cls(engine, carrier_id)

    async def connect(self, address: str, port: int) -> socket.socket:
        """A socket whose peer is address:port in the container's namespace, on its node;
        ConnectionRefusedError if nothing listens there, another OSError if the carrier or
        the engine cannot be used (as a local connect to a namespace that is gone)."""
        try:
            return await self._connect(address, port)
        except (EngineError, ProtocolError) as exc:  # the carrier ended with its container
            raise ConnectionError(f"carrier {self.carrier_id[:12]}: {exc}") from exc

    async def _connect(self, address: str, port: int) -> socket.socket:
        exec_id = (
            await self.engine.json(
                "POST",
                f"/containers/{self.carrier_id}/exec",
                body={
                    "Cmd": ["bash", "-c", CARRY, address, str(port)],
                    "AttachStdin": True,
                    "AttachStdout": True,
                    "AttachStderr": True,
                    "Tty": False,
                    "User": settings.SANDBOX_USER,
                },
            )
        )["Id"]
        conn = await self.engine.connect()
        try:
            payload = json.dumps({"Detach": False, "Tty": False}).encode()
            headers = [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(payload))),
                ("Connection", "Upgrade"),
                ("Upgrade", "tcp"),
            ]
            conn.writer.write(
                encode_request_head("POST", f"{API}/exec/{exec_id}/start", None, headers) + payload
            )
            await conn.writer.drain()
            head = await read_response_head(conn.reader)
            if head.status not in (101, 200):
                raise ConnectionRefusedError(f"exec start answered {head.status}")
            frames = _Frames(conn.reader)
            while True:  # until the exec says it is connected, or ends (nothing listens)
                frame = await frames.next()
                if frame is None:
                    raise ConnectionRefusedError(f"nothing listens on {address}:{port}")
                kind, data = frame
                if kind == 2 and CONNECTED in data:
                    break
            ours, theirs = socket.socketpair()
        except BaseException:
            conn.close()
            raise
        ours.setblocking(False)
        theirs.setblocking(False)
        self._carry(theirs, conn, frames)
        return ours

    def _carry(self, sock: socket.socket, conn: Any, frames: _Frames) -> None:
        loop = asyncio.get_running_loop()

        async def upward() -> None:  # the table's bytes to the exec's stdin
            with contextlib.suppress(OSError):
                while data := await loop.sock_recv(sock, CHUNK):
                    conn.writer.write(data)
                    await conn.writer.drain()
                if conn.writer.can_write_eof():
                    conn.writer.write_eof()

        async def downward() -> None:  # the exec's stdout to the table
            with contextlib.suppress(OSError):
                while (frame := await frames.next()) is not None:
                    if frame[0] == 1:
                        await loop.sock_sendall(sock, frame[1])
                sock.shutdown(socket.SHUT_WR)

        async def both() -> None:
            up, down = loop.create_task(upward()), loop.create_task(downward())
            try:
                await asyncio.wait([up, down], return_when=asyncio.FIRST_COMPLETED)
                if not down.done():
                    # The table closed its end: the exec ends too (CARRY), and with it the stream.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(down, timeout=10.0)
            finally:
                up.cancel()
                down.cancel()
                sock.close()
                conn.close()

        task = loop.create_task(both())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def close(self) -> None:
        """Ends its connections and removes the carrier container (in the background)."""
        for task in list(self._tasks):
            task.cancel()
        with contextlib.suppress(RuntimeError):  # no running loop: the process is ending
            task = asyncio.get_running_loop().create_task(self._remove())
            _removing.add(task)
            task.add_done_callback(_removing.discard)

    async def _remove(self) -> None:
        try:
            await _remove(self.engine, self.carrier_id)
        except Exception:  # noqa: BLE001 - logged; the next start for that container retries
            logger.info("carrier %s not removed", self.carrier_id[:12], exc_info=True)


class _Frames:
    """Docker's multiplexed stream (a non-tty exec): 8-byte headers (stream, 0, 0, 0, size)."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self.reader = reader

    async def next(self) -> tuple[int, bytes] | None:
        try:
            header = await self.reader.readexactly(8)
            kind, size = struct.unpack(">BxxxL", header)
            return kind, await self.reader.readexactly(size)
        except asyncio.IncompleteReadError:
            return None


async def _remove(engine: Upstream, carrier_id: str) -> None:
    response = await engine.request(
        "DELETE", f"/containers/{carrier_id}", query={"force": "1", "v": "1"}
    )
    if response.status not in (204, 404, 409):  # 409: AutoRemove is removing it already
        raise OSError(f"removing carrier {carrier_id[:12]}: {response.status} {response.message}")


async def remove_carriers(engine: Upstream, container_id: str) -> None:
    """Removes the carrier containers serving `container_id` on its engine."""
    filters = json.dumps({"label": [f"{LABEL_CARRIER}={container_id}"]})
    found = await engine.json("GET", "/containers/json", query={"all": "1", "filters": filters})
    for item in found:
        await _remove(engine, str(item["Id"]))
