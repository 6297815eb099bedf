"""One student's published ports while their containers run: allocation, carriers, connections.

The engine's events for the student's containers drive it, so a port appears when a container
starts (`run -p`, `start`, `restart`, a restart policy) and goes when it stops or dies, whoever
caused it. The gateway calls `plan()` before it lets a start through, so a clash gets Docker's
own "port is already allocated" error and the container stays created, as on a real engine.

Per running container with published ports the table holds an open handle on its network
namespace (checked against the container's state, see `_open_namespace`), and per host port a
listening socket on the sandbox's loopback. Connections from the sandbox listener and from the
preview origin both go through `connect()`. On a Swarm node the sandbox's loopback listeners
live on the node instead (node_loopback) and carry their connections there.

Why one module of about 600 lines: allocation, the namespace handles, the listeners and the kept
connections all change together on one engine event (a container starting or stopping), under
that container's lock; split, each part would need the others' private state.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import random
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from django.utils.translation import gettext as _

from sandbox.deadlines import Deadlines
from sandbox.gateway.sandbox_lookup import running_sandboxes
from sandbox.gateway.upstream import API, Upstream
from sandbox.gateway.wire import (
    encode_request_head,
    iter_body,
    read_response_head,
    response_framing,
)
from sandbox.token_bucket import RateLimit

from . import bindings, netns
from .bindings import Published, Request
from .carriers import EngineCarrier, NamespaceCarrier
from .node_loopback import LoopbackCarrier

logger = logging.getLogger(__name__)
P = TypeVar("P", bound=asyncio.BaseProtocol)

CONNECT_TIMEOUT = 5.0
SANDBOX_HOSTS = ("127.0.0.1", "::1")
# Kept-alive connections to a container's port, for the preview's next request: a few per port
# (they count among the student's connections), and only briefly idle (a server that closed one
# meanwhile costs a retry on a new connection: only requests that can go twice take them).
IDLE_PER_PORT = 4
IDLE_SECONDS = 4.0


class PortConflict(Exception):
    """A host port the student already uses; `message` is Docker's error, in Spanish."""

    def __init__(self, host_ip: str, host_port: int) -> None:
        shown = host_ip or "0.0.0.0"  # noqa: S104
        self.message = _(
            "driver failed programming external connectivity: Bind for %(ip)s:%(port)d failed: "
            "el puerto ya está asignado (port is already allocated)"
        ) % {"ip": shown, "port": host_port}
        super().__init__(self.message)


class NotPublished(Exception):
    """Nothing of the student's publishes that host port (any more)."""


class Reusable(Protocol):
    """A connection the preview's HTTP client may use again (sandbox.preview.container_http)."""

    def is_open(self) -> bool: ...

    def close(self) -> None: ...


@dataclass(eq=False)
class Idle:
    """A connection to a container's port between two preview requests."""

    connection: Reusable
    since: float

    def usable(self, now: float) -> bool:
        return now - self.since < IDLE_SECONDS and self.connection.is_open()

    def close(self) -> None:
        self.connection.close()


class NothingListens(Exception):
    """The container is there but nothing accepts on its port."""

    def __init__(self, name: str, container_port: int) -> None:
        self.name = name
        self.container_port = container_port
        super().__init__(f"{name}:{container_port}")


@dataclass
class Running:
    container_id: str
    name: str  # as the student sees it
    started_at: str
    carrier: NamespaceCarrier | EngineCarrier  # its `kind` says which transport
    address: str
    published: list[Published]
    exposed: list[tuple[int, str]]


@dataclass
class PortTable:
    owner: str
    engine: Upstream
    label_filters: list[str]  # the engine labels that select this student's containers
    shown_name: Callable[[str], str]  # engine name → the name the student sees
    sandbox_folder: Callable[[], str | None]  # the gateway folder their sandbox mounts
    max_connections: int = 64
    # The student's byte rate, also for `curl localhost:<port>` in their terminal (byte_rate).
    byte_rate: RateLimit | None = None
    running: dict[str, Running] = field(default_factory=dict)
    planned: dict[str, list[Published]] = field(default_factory=dict)
    listeners: dict[int, list[asyncio.Server]] = field(default_factory=dict)
    connections: int = 0
    idle: dict[tuple[str, int], list[Idle]] = field(default_factory=dict)
    _idle_sweep: asyncio.TimerHandle | None = None  # closes kept connections past their time
    # Preview requests waiting for their container's answer, each until PREVIEW_IDLE_SECONDS.
    waits: Deadlines = field(default_factory=Deadlines)
    _ahead: dict[tuple[str, int], asyncio.Future[None]] = field(default_factory=dict)
    _claimed: set[tuple[str, int]] = field(default_factory=set)
    # Preview requests under way per host port: a connection is opened ahead only when the
    # port is otherwise quiet (under concurrent requests it would only add connections).
    busy: dict[int, int] = field(default_factory=dict)
    _locks: dict[str, asyncio.Lock] = field(default_factory=dict)
    _watcher: asyncio.Task[None] | None = None
    _sandbox: netns.Namespace | None = None
    _sandbox_pid: int = 0
    _loopback: LoopbackCarrier | None = None  # on a Swarm node: the sandbox's listeners
    _on_change: list[Callable[[], None]] = field(default_factory=list)

    # --- which host ports are taken ---------------------------------------------------------
    def host_ports(self) -> dict[int, tuple[str, Published]]:
        taken: dict[int, tuple[str, Published]] = {}
        for cid, items in self.planned.items():
            for item in items:
                taken[item.host_port] = (cid, item)
        for cid, entry in self.running.items():
            for item in entry.published:
                taken[item.host_port] = (cid, item)
        return taken

    def published(self, container_id: str) -> list[Published]:
        entry = self.running.get(container_id)
        return list(entry.published) if entry else []

    def summary(self) -> list[dict[str, Any]]:
        """The student's published ports, for the terminal panel's «Abrir» links."""
        out = []
        for entry in sorted(self.running.values(), key=lambda e: e.name):
            for item in sorted(entry.published, key=lambda p: p.host_port):
                out.append(
                    {
                        "host_port": item.host_port,
                        "container_port": item.container_port,
                        "container": entry.name,
                    }
                )
        return out

    # --- start and stop ----------------------------------------------------------------------
    async def plan(self, container_id: str, info: dict[str, Any] | None = None) -> None:
        """Chooses host ports for a container about to start; PortConflict on a clash."""
        info = info or await self.engine.json("GET", f"/containers/{container_id}/json")
        request = Request.from_labels((info.get("Config") or {}).get("Labels"))
        if request.empty:
            return
        taken = {port for port, (cid, _item) in self.host_ports().items() if cid != container_id}
        chosen: list[Published] = []
        wanted = request.bindings()
        if request.publish_all:
            explicit = {(b.container_port, b.proto) for b in wanted}
            for port, proto in bindings.exposed_ports(info.get("Config")):
                if proto == "tcp" and (port, proto) not in explicit:
                    wanted.append(bindings.Binding(port, proto, "", None))
        for binding in wanted:
            if binding.host_port is not None:
                if binding.host_port in taken:
                    raise PortConflict(binding.host_ip, binding.host_port)
                port = binding.host_port
            else:
                port = _free_port(taken)
            taken.add(port)
            chosen.append(Published(binding.container_port, binding.proto, binding.host_ip, port))
        self.planned[container_id] = chosen

    async def activate(self, container_id: str) -> None:
        """After the container started: open its namespace and the sandbox listeners."""
        async with self._lock(container_id):
            info = await self.engine.get_or_none(f"/containers/{container_id}/json")
            if info is None or not (info.get("State") or {}).get("Running"):
                self.planned.pop(container_id, None)
                return
            started_at = info["State"].get("StartedAt", "")
            current = self.running.get(container_id)
            if current is not None and current.started_at == started_at:
                return
            if current is not None:
                await self._drop(container_id)
            if container_id not in self.planned:
                try:
                    await self.plan(container_id, info)
                except PortConflict as exc:  # a restart policy started it: publish nothing
                    logger.info("not publishing %s: %s", container_id[:12], exc.message)
                    return
            published = self.planned.pop(container_id, [])
            if not published:
                return
            carrier = await self._carrier(container_id, info)
            if carrier is None:
                return
            self.running[container_id] = Running(
                container_id=container_id,
                name=self.shown_name((info.get("Name") or "").removeprefix("/")),
                started_at=started_at,
                carrier=carrier,
                address=_address(info),
                published=published,
                exposed=bindings.exposed_ports(info.get("Config")),
            )
            for item in published:
                await self._listen_in_sandbox(item.host_port)
        self._changed()

    async def deactivate(self, container_id: str) -> None:
        async with self._lock(container_id):
            self.planned.pop(container_id, None)
            if container_id in self.running:
                await self._drop(container_id)
                self._changed()

    async def _drop(self, container_id: str) -> None:
        entry = self.running.pop(container_id)
        for key in [k for k in self.idle if k[0] == container_id]:
            for kept in self.idle.pop(key):
                kept.close()
        entry.carrier.close()
        still = set(self.host_ports())
        for item in entry.published:
            if item.host_port not in still:
                for server in self.listeners.pop(item.host_port, []):
                    server.close()
                if self._loopback is not None and item.host_port in self._loopback.ports:
                    await self._loopback.close_port(item.host_port)

    def _lock(self, container_id: str) -> asyncio.Lock:
        return self._locks.setdefault(container_id, asyncio.Lock())

    async def _carrier(
        self, container_id: str, info: dict[str, Any]
    ) -> NamespaceCarrier | EngineCarrier | None:
        """How connections reach the container: inside its namespace when it runs on this
        server's engine; through its node's engine when it runs on a Swarm node (its process id
        there names nothing of ours here: it must never be opened)."""
        if await self._on_a_node():
            try:
                loopback = await self._node_loopback()
                volumes_from = loopback.carrier_id if loopback is not None else None
                return await EngineCarrier.start(self.engine, container_id, volumes_from)
            except Exception:  # noqa: BLE001 - it stopped meanwhile, or its node is gone
                logger.info("no carrier for %s", container_id[:12], exc_info=True)
                return None
        namespace = await self._open_namespace(container_id, info)
        return None if namespace is None else NamespaceCarrier(namespace, _address(info))

    async def _on_a_node(self) -> bool:
        return (await self.engine.address()).startswith("tcp://")

    async def _open_namespace(
        self, container_id: str, info: dict[str, Any]
    ) -> netns.Namespace | None:
        """The container's namespace, proven to be its own: the process id is read, the
        namespace opened, and the container read again; only if it still runs with the same
        process and start time was the namespace opened while that process held it (a
        running process's id cannot be reused)."""
        state = info.get("State") or {}
        pid = int(state.get("Pid") or 0)
        try:
            namespace = netns.Namespace.of_process(pid)
        except OSError:
            return None
        again = await self.engine.get_or_none(f"/containers/{container_id}/json")
        same = (
            again is not None
            and (again.get("State") or {}).get("Running")
            and int(again["State"].get("Pid") or 0) == pid
            and again["State"].get("StartedAt") == state.get("StartedAt")
        )
        if not same:
            namespace.close()
            return None
        return namespace

    # --- the sandbox side --------------------------------------------------------------------
    async def _sandbox_namespace(self) -> netns.Namespace | None:
        sandbox_id = await self._sandbox_id()
        if sandbox_id is None:
            return None
        info = await self.engine.get_or_none(f"/containers/{sandbox_id}/json")
        if info is None:
            return None
        pid = int((info.get("State") or {}).get("Pid") or 0)
        if self._sandbox is not None and not self._sandbox.closed and pid == self._sandbox_pid:
            return self._sandbox
        if self._sandbox is not None:
            self._sandbox.close()
        self._sandbox = await self._open_namespace(sandbox_id, info)
        self._sandbox_pid = pid if self._sandbox else 0
        return self._sandbox

    async def _listen_in_sandbox(self, host_port: int) -> None:
        if await self._on_a_node():
            await self._listen_on_node(host_port)
            return
        if host_port in self.listeners:
            return
        namespace = await self._sandbox_namespace()
        if namespace is None:
            return
        servers = []
        for host in SANDBOX_HOSTS:
            try:
                sock = await netns.socket_inside(namespace, netns.listener(host, host_port))
            except OSError as exc:  # no IPv6 loopback, or the student's own process has it
                logger.info("no sandbox listener on %s:%d: %s", host, host_port, exc)
                continue
            servers.append(
                await asyncio.start_server(
                    functools.partial(self._from_sandbox, host_port), sock=sock
                )
            )
        self.listeners[host_port] = servers

    async def _sandbox_id(self) -> str | None:
        found = await running_sandboxes(self.engine, self.sandbox_folder())
        return found[0] if found else None

    async def _node_loopback(self) -> LoopbackCarrier | None:
        """The sandbox's loopback carrier on its node (node_loopback), started once per
        sandbox; None if the sandbox is not found (its listeners are then left out)."""
        sandbox_id = await self._sandbox_id()
        if sandbox_id is None:
            return None
        if self._loopback is not None and self._loopback.sandbox_id == sandbox_id:
            return self._loopback
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None
        try:
            self._loopback = await LoopbackCarrier.start(self.engine, sandbox_id)
        except Exception:  # noqa: BLE001 - the sandbox ended meanwhile, or its node is gone
            logger.info("no loopback carrier for %s", sandbox_id[:12], exc_info=True)
        return self._loopback

    async def _listen_on_node(self, host_port: int) -> None:
        found = self._published_at(host_port)
        loopback = self._loopback
        if found is None or loopback is None:
            return
        entry, item = found
        if not isinstance(entry.carrier, EngineCarrier):
            return
        try:
            await loopback.open(
                entry.carrier.carrier_id, host_port, entry.address, item.container_port
            )
        except Exception:  # noqa: BLE001 - the container or the sandbox ended meanwhile
            logger.info("no sandbox listener on port %d", host_port, exc_info=True)

    async def _from_sandbox(
        self, host_port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            upstream = await self.connect(host_port)
        except (NotPublished, NothingListens, OSError, TimeoutError):
            writer.close()  # as a refused connection looks to curl: closed, nothing sent
            return
        await splice((reader, writer), upstream, limit=self.byte_rate)

    # --- connections -------------------------------------------------------------------------
    def _published_at(self, host_port: int) -> tuple[Running, Published] | None:
        """The running container publishing `host_port` now (what host_ports() says, without
        building it on every connection: only running containers can be connected to)."""
        for entry in self.running.values():
            for item in entry.published:
                if item.host_port == host_port:
                    return entry, item
        return None

    async def _connected_socket(self, host_port: int) -> socket.socket:
        found = self._published_at(host_port)
        if found is None:
            raise NotPublished(host_port)
        entry, item = found
        if self.connections >= self.max_connections:
            raise OSError(_("Demasiadas conexiones abiertas a tus puertos publicados."))
        # The place is taken before the wait: counted only once connected, a burst of requests
        # all passed the check above together (hundreds of connections against a limit of 64).
        # It is given back when the connection closes (_until_closed), or here if none is made.
        self.connections += 1
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                return await entry.carrier.connect(entry.address, item.container_port)
        except (ConnectionRefusedError, TimeoutError):
            self._released()
            raise NothingListens(entry.name, item.container_port) from None
        except BaseException:
            self._released()
            raise

    async def connect(self, host_port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        sock = await self._connected_socket(host_port)
        try:
            reader, writer = await asyncio.open_connection(sock=sock)
        except BaseException:
            sock.close()
            self._released()
            raise
        self._until_closed(writer.transport, writer.transport.get_protocol())
        return reader, writer

    async def open(self, host_port: int, factory: Callable[[], P]) -> P:
        """A connection to what publishes `host_port`, driven by the protocol `factory` makes
        (the preview's HTTP client: no stream reader in between)."""
        sock = await self._connected_socket(host_port)
        loop = asyncio.get_running_loop()
        try:
            transport, protocol = await loop.create_connection(factory, sock=sock)
        except BaseException:
            sock.close()
            self._released()
            raise
        self._until_closed(transport, protocol)
        return protocol

    def _until_closed(
        self, transport: asyncio.BaseTransport, protocol: asyncio.BaseProtocol
    ) -> None:
        """A connection counted in _connected_socket: its place comes back when it closes."""
        transport.set_write_buffer_limits(high=256 * 1024)  # type: ignore[attr-defined]
        _on_close(protocol, self._released)

    def _released(self) -> None:
        self.connections = max(0, self.connections - 1)

    def _route(self, host_port: int) -> tuple[str, int] | None:
        found = self._published_at(host_port)
        return (found[0].container_id, host_port) if found else None

    def take_idle(self, host_port: int) -> Idle | None:
        """A kept-alive connection to what publishes `host_port` now (never to a container
        that published it before), or None."""
        key = self._route(host_port)
        kept = self.idle.get(key) if key else None
        now = time.monotonic()
        while kept:
            item = kept.pop()
            if item.usable(now):
                return item
            item.close()
        return None

    def close_idle(self, host_port: int) -> None:
        """Closes the port's kept connections (and one being opened ahead): a request that must
        take a new one would wait behind them at a server that serves one connection at a
        time."""
        key = self._route(host_port)
        if key is None:
            return
        for item in self.idle.pop(key, []):
            item.close()
        pending = self._ahead.pop(key, None)
        if pending is not None and not pending.done():
            pending.set_result(None)

    async def open_ahead(self, host_port: int, factory: Callable[[], P]) -> None:
        """Opens the connection the next request will take, for a server that closes each one
        after its answer (busybox httpd, many small servers): the connect, most of a proxied
        request's own cost there, is then paid while the browser is busy with the answer. One
        at most per port; it expires like a kept one."""
        key = self._route(host_port)
        if key is None or self.idle.get(key) or key in self._ahead:
            return
        pending = self._ahead[key] = asyncio.get_running_loop().create_future()
        connection: Any = None
        try:
            connection = await self.open(host_port, factory)
        except (NotPublished, NothingListens, OSError):
            pass  # nothing lost: the next request connects as it would have
        finally:
            if self._ahead.get(key) is pending:
                del self._ahead[key]
                if connection is not None:
                    self.keep_idle(host_port, Idle(connection, 0.0))
            elif connection is not None:
                connection.close()  # a request needing a connection of its own came meanwhile
            if not pending.done():
                pending.set_result(None)

    async def opened_ahead(self, host_port: int) -> Idle | None:
        """The connection being opened ahead for `host_port`, once open (None if there is
        none): a request that came while it was opening takes it instead of a second
        connection, which a server serving one connection at a time would leave waiting."""
        key = self._route(host_port)
        pending = self._ahead.get(key) if key else None
        if pending is None or key in self._claimed:
            return None  # another request waits for it already: this one connects at once
        self._claimed.add(key)  # type: ignore[arg-type]
        try:
            await asyncio.shield(pending)
        finally:
            self._claimed.discard(key)  # type: ignore[arg-type]
        return self.take_idle(host_port)

    def keep_idle(self, host_port: int, item: Idle) -> None:
        """Keeps a connection whose exchange ended cleanly for the next request; closed if the
        port has moved on or enough are kept already."""
        key = self._route(host_port)
        kept = self.idle.setdefault(key, []) if key else None
        if kept is None or len(kept) >= IDLE_PER_PORT or not item.connection.is_open():
            item.close()
            return
        item.since = time.monotonic()
        kept.append(item)
        # Not left open past its time: a server that closed its end would otherwise hold our
        # half-open socket until the next request or the container's stop. One timer per table
        # for all of them: one per kept connection (one per preview request, never cancelled)
        # piled up in the loop by the thousand (docs/ports.md, «Menos temporizadores»).
        if self._idle_sweep is None:
            self._idle_sweep = asyncio.get_running_loop().call_later(IDLE_SECONDS, self._sweep_idle)

    def _sweep_idle(self) -> None:
        """Closes the kept connections past their time, and comes back when the next one is."""
        self._idle_sweep = None
        now = time.monotonic()
        oldest = now
        for key, kept in list(self.idle.items()):
            usable = []
            for item in kept:
                if item.usable(now):
                    usable.append(item)
                else:
                    item.close()
            if usable:
                kept[:] = usable
                oldest = min(oldest, *(item.since for item in usable))
            else:
                del self.idle[key]
        if self.idle:
            self._idle_sweep = asyncio.get_running_loop().call_later(
                max(0.05, oldest + IDLE_SECONDS - now), self._sweep_idle
            )

    # --- the engine's events -----------------------------------------------------------------
    def watch(self) -> None:
        if self._watcher is None or self._watcher.done():
            self._watcher = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        """Follows the student's container events; reconnects if the engine restarts."""
        while True:
            try:
                await self._restore()
                await self._follow_events()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the engine went away: retry, never die
                logger.info("port events for %s interrupted", self.owner[:8], exc_info=True)
            await asyncio.sleep(1.0)

    async def _restore(self) -> None:
        filters = json.dumps({"label": [*self.label_filters, bindings.LABEL]})
        for item in await self.engine.json("GET", "/containers/json", query={"filters": filters}):
            await self.activate(item["Id"])

    async def _follow_events(self) -> None:
        filters = json.dumps(
            {"type": ["container"], "label": [*self.label_filters, bindings.LABEL]}
        )
        conn = await self.engine.connect()
        try:
            head = encode_request_head(
                "GET", API + "/events", [("filters", filters)], [("Connection", "close")]
            )
            conn.writer.write(head)
            await conn.writer.drain()
            response = await read_response_head(conn.reader)
            buffer = b""
            async for data in iter_body(conn.reader, response_framing("GET", response)):
                buffer += data
                *lines, buffer = buffer.split(b"\n")
                for line in lines:
                    if line.strip():
                        await self._on_event(json.loads(line))
        finally:
            conn.close()

    async def _on_event(self, event: dict[str, Any]) -> None:
        action = str(event.get("Action") or event.get("status") or "")
        container_id = str(event.get("id") or (event.get("Actor") or {}).get("ID") or "")
        if not container_id:
            return
        if action == "start":
            await self.activate(container_id)
        elif action in ("die", "stop", "kill", "destroy", "pause"):
            if action == "kill":
                return  # a signal; "die" follows if it ended the container
            await self.deactivate(container_id)
        elif action == "unpause":
            await self.activate(container_id)

    # --- the end -----------------------------------------------------------------------------
    def on_change(self, callback: Callable[[], None]) -> None:
        self._on_change.append(callback)

    def _changed(self) -> None:
        for callback in list(self._on_change):
            with contextlib.suppress(Exception):
                callback()

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._watcher
        for container_id in list(self.running):
            await self._drop(container_id)
        for kept in self.idle.values():
            for item in kept:
                item.close()
        self.idle.clear()
        if self._idle_sweep is not None:
            self._idle_sweep.cancel()
            self._idle_sweep = None
        for servers in self.listeners.values():
            for server in servers:
                server.close()
        self.listeners.clear()
        self.planned.clear()
        if self._sandbox is not None:
            self._sandbox.close()
            self._sandbox = None
        if self._loopback is not None:
            self._loopback.close()
            self._loopback = None


def _free_port(taken: set[int]) -> int:
    low, high = bindings.EPHEMERAL
    for _attempt in range(1000):
        port = random.randint(low, high)  # noqa: S311 - not a secret, only spread out
        if port not in taken:
            return port
    raise OSError(_("No queda ningún puerto libre para publicar."))


def _address(info: dict[str, Any]) -> str:
    """The address Docker's own publishing would forward to: the container's on its first
    network (not 127.0.0.1, which a published port never reaches on a real engine)."""
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    for network in networks.values():
        if isinstance(network, dict) and network.get("IPAddress"):
            return str(network["IPAddress"])
    # No network of its own (the student's default is none, or it shares another container's):
    # inside its namespace the port is on loopback.
    return "127.0.0.1"


def _on_close(protocol: asyncio.BaseProtocol, callback: Callable[[], None]) -> None:
    original = protocol.connection_lost

    def connection_lost(exc: Exception | None) -> None:
        callback()
        original(exc)

    protocol.connection_lost = connection_lost  # type: ignore[method-assign]


async def splice(
    a: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    b: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    *,
    idle: float = 300.0,
    limit: RateLimit | None = None,
) -> None:
    """Copies bytes both ways until either side closes or nothing moves for `idle` seconds,
    within `limit` (both ways count) when there is one."""

    async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError, TimeoutError):
            while True:
                async with asyncio.timeout(idle):
                    data = await src.read(64 * 1024)
                if not data:
                    break
                if limit is not None:
                    await limit.take(len(data))
                dst.write(data)
                await dst.drain()
            if dst.can_write_eof():
                dst.write_eof()

    tasks = [asyncio.ensure_future(pump(a[0], b[1])), asyncio.ensure_future(pump(b[0], a[1]))]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        for _reader, writer in (a, b):
            writer.close()


Connector = Callable[[int], Awaitable[tuple[asyncio.StreamReader, asyncio.StreamWriter]]]
