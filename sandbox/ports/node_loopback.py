"""`curl localhost:8080` in a sandbox on a Swarm node: listeners on the sandbox's loopback,
carried on that node to the container publishing the port, without Muelle's process in the way.

Locally the table makes the listening socket inside the sandbox's namespace itself (netns). A
sandbox on a node has no namespace on this server, so two small processes on the node do it:

- one «loopback carrier» container per sandbox, in the sandbox's network and process namespaces
  (`network_mode=container:<sandbox>`, `pid_mode=container:<sandbox>`: it ends with the sandbox,
  and is removed with it, `AutoRemove`), locked down like the port carriers (the sandbox image
  and user, read-only, no capabilities, no-new-privileges, 64 MiB, 256 processes). It owns a
  small tmpfs volume of its own, `/run/muelle-ports` (0700, the sandbox user's): the only thing
  it shares, and only with this student's port carriers on the same node (`VolumesFrom`);
- per published host port, a detached exec in it (LISTEN) listening on 127.0.0.1 and ::1 of
  the sandbox, and a detached exec in the container's port carrier (SERVE, carriers.py) with a
  unix socket `/run/muelle-ports/<host port>.sock` that connects each connection to the
  container's address and port from inside the container's namespace.

Nothing listens on the node's own network, and another sandbox's loopback (another namespace)
has nothing on that port. A port that goes: the table deletes its unix socket (an exec), and
the listener, which looks for it twice a second, closes and ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from django.conf import settings

from sandbox.engine_names import LABEL_PORT_LOOPBACK
from sandbox.gateway.upstream import Upstream

from .carriers import carrier_body

logger = logging.getLogger(__name__)

SOCKETS = "/run/muelle-ports"
# Removals under way: asyncio keeps only weak references to tasks.
_removing: set[asyncio.Task[None]] = set()

# Shared by both ends: copies one way until the end of input, then half-closes the other side.
_PIPE = """
import os, socket, sys, threading, time
def pipe(a, b):
    try:
        while True:
            data = a.recv(65536)
            if not data:
                break
            b.sendall(data)
        b.shutdown(socket.SHUT_WR)
    except OSError:
        pass
def splice(a, b):
    back = threading.Thread(target=pipe, args=(b, a), daemon=True)
    back.start()
    pipe(a, b)
    back.join()
    a.close()
    b.close()
"""

# In the container's port carrier: argv = socket path, container address, container port.
SERVE = (
    _PIPE
    + """
path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def carry(client):
    try:
        upstream = socket.create_connection((host, port), timeout=5)
        upstream.settimeout(None)
    except OSError:
        client.close()
        return
    splice(client, upstream)
try:
    os.unlink(path)
except FileNotFoundError:
    pass
server = socket.socket(socket.AF_UNIX)
server.bind(path)
server.listen(64)
while True:
    client, _ = server.accept()
    threading.Thread(target=carry, args=(client,), daemon=True).start()
"""
)

# In the loopback carrier: argv = host port. Ends when its unix socket goes (the port went),
# or if it never appears.
LISTEN = (
    _PIPE
    + """
import select
port = int(sys.argv[1])
path = f"/run/muelle-ports/{port}.sock"
servers = []
for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
    for _attempt in range(20):  # the previous listener of this port may still be closing
        try:
            server = socket.socket(family)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((host, port))
            server.listen(64)
            servers.append(server)
            break
        except OSError:
            server.close()
            if family == socket.AF_INET6:
                break  # no IPv6 loopback in this sandbox
            time.sleep(0.25)
def carry(client):
    upstream = socket.socket(socket.AF_UNIX)
    try:
        upstream.connect(path)
    except OSError:
        client.close()
        upstream.close()
        return
    splice(client, upstream)
started = time.monotonic()
seen = False
while servers:
    if os.path.exists(path):
        seen = True
    elif seen or time.monotonic() - started > 10:
        break
    ready, _, _ = select.select(servers, [], [], 0.5)
    for server in ready:
        client, _ = server.accept()
        threading.Thread(target=carry, args=(client,), daemon=True).start()
"""
)


def socket_path(host_port: int) -> str:
    return f"{SOCKETS}/{host_port}.sock"


async def exec_detached(engine: Upstream, container_id: str, cmd: list[str]) -> None:
    """Starts `cmd` in the container as the sandbox user, without waiting for it."""
    created = await engine.json(
        "POST",
        f"/containers/{container_id}/exec",
        body={"Cmd": cmd, "User": settings.SANDBOX_USER, "AttachStdout": False},
    )
    await engine.json("POST", f"/exec/{created['Id']}/start", body={"Detach": True})


class LoopbackCarrier:
    """The listeners on one sandbox's loopback, on its node."""

    def __init__(self, engine: Upstream, sandbox_id: str, carrier_id: str, volume: str) -> None:
        self.engine = engine
        self.sandbox_id = sandbox_id
        self.carrier_id = carrier_id
        self.volume = volume
        self.ports: set[int] = set()

    @classmethod
    async def start(cls, engine: Upstream, sandbox_id: str) -> LoopbackCarrier:
        await remove_loopback_carriers(engine, sandbox_id)  # one left by a process that died
        uid, _, gid = str(settings.SANDBOX_USER).partition(":")
        tmpfs = f"size=1m,mode=0700,uid={uid},gid={gid or uid}"
        body = carrier_body(sandbox_id, {LABEL_PORT_LOOPBACK: sandbox_id})
        body["HostConfig"]["Mounts"] = [
            {
                "Type": "volume",
                "Target": SOCKETS,
                "VolumeOptions": {
                    "Labels": {LABEL_PORT_LOOPBACK: sandbox_id},
                    "DriverConfig": {
                        "Name": "local",
                        "Options": {"type": "tmpfs", "device": "tmpfs", "o": tmpfs},
                    },
                },
            }
        ]
        created = await engine.json("POST", "/containers/create", body=body)
        carrier_id = str(created["Id"])
        try:
            await engine.json("POST", f"/containers/{carrier_id}/start")
            info = await engine.json("GET", f"/containers/{carrier_id}/json")
        except BaseException:
            with contextlib.suppress(Exception):
                await _remove(engine, carrier_id, "")
            raise
        volume = next(
            (
                str(m.get("Name"))
                for m in info.get("Mounts") or []
                if m.get("Destination") == SOCKETS
            ),
            "",
        )
        return cls(engine, sandbox_id, carrier_id, volume)

    async def open(
        self, port_carrier_id: str, host_port: int, address: str, container_port: int
    ) -> None:
        """`curl localhost:<host_port>` in the sandbox reaches address:container_port, through
        the container's port carrier (which must share this carrier's volume)."""
        path = socket_path(host_port)
        await exec_detached(
            self.engine,
            port_carrier_id,
            ["python3", "-c", SERVE, path, address, str(container_port)],
        )
        if host_port not in self.ports:
            await exec_detached(
                self.engine, self.carrier_id, ["python3", "-c", LISTEN, str(host_port)]
            )
            self.ports.add(host_port)

    async def close_port(self, host_port: int) -> None:
        """The port went: its unix socket is deleted, so its listener ends."""
        self.ports.discard(host_port)
        with contextlib.suppress(Exception):
            await exec_detached(self.engine, self.carrier_id, ["rm", "-f", socket_path(host_port)])

    def close(self) -> None:
        """Removes the carrier (and its listeners) and its volume, in the background."""
        self.ports.clear()
        with contextlib.suppress(RuntimeError):  # no running loop: the process is ending
            task = asyncio.get_running_loop().create_task(
                _remove(self.engine, self.carrier_id, self.volume)
            )
            _removing.add(task)
            task.add_done_callback(_removing.discard)


async def _remove(engine: Upstream, carrier_id: str, volume: str) -> None:
    try:
        await engine.request("DELETE", f"/containers/{carrier_id}", query={"force": "1", "v": "1"})
        if not volume:
            return
        # The port carriers that shared it may be going at the same time: a few tries.
        for _attempt in range(20):
            response = await engine.request("DELETE", f"/volumes/{volume}")
            if response.status in (204, 404):
                return
            await asyncio.sleep(0.5)
    except Exception:  # noqa: BLE001 - logged; it ends with its sandbox anyway
        logger.info("loopback carrier %s not removed", carrier_id[:12], exc_info=True)


async def remove_loopback_carriers(engine: Upstream, sandbox_id: str) -> None:
    filters = json.dumps({"label": [f"{LABEL_PORT_LOOPBACK}={sandbox_id}"]})
    found = await engine.json("GET", "/containers/json", query={"all": "1", "filters": filters})
    for item in found:
        await _remove(engine, str(item["Id"]), "")
