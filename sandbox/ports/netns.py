"""Sockets made inside a container's network namespace from the web process (Linux setns).

A socket belongs to the network namespace it was created in, whatever thread uses it later. So a
worker thread enters the container's namespace (setns only moves the calling thread), makes the
socket, and goes back home; the event loop then uses the socket like any other. The worker lives
on between jobs: starting a thread per job made the event loop wait for the new thread to be
scheduled (`Thread.start()` blocks until it runs), a stall of its own on a busy machine.

A namespace is reached through an open file descriptor (`Namespace`), taken once per container
start and checked against the container's own state (see ports.table), so a process id that was
reused after the container died can never lead into someone else's namespace. The server's own
namespace is refused outright.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import queue
import socket
import threading
from collections.abc import Callable

CLONE_NEWNET = 0x40000000

_libc = ctypes.CDLL(None, use_errno=True)


class NamespaceError(OSError):
    """The namespace could not be entered or is not one we may use."""


def _own_namespace_inode() -> int:
    return os.stat("/proc/self/ns/net").st_ino


class Namespace:
    """An open handle on one network namespace; close() when its container stops."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.inode = os.fstat(fd).st_ino

    @classmethod
    def of_process(cls, pid: int) -> Namespace:
        if pid <= 1:
            raise NamespaceError(f"no usable process id: {pid}")
        fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        namespace = cls(fd)
        if namespace.inode == _own_namespace_inode():
            namespace.close()
            raise NamespaceError("that is the server's own network namespace")
        return namespace

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    @property
    def closed(self) -> bool:
        return self.fd < 0


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise NamespaceError(errno, os.strerror(errno))


class _Stranded(NamespaceError):
    """The worker could not go back to its own namespace: it must never run another job."""


def _make_inside(fd: int, make: Callable[[], socket.socket]) -> socket.socket:
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(fd)
        try:
            return make()
        finally:
            try:
                _setns(home)
            except NamespaceError as exc:
                raise _Stranded(str(exc)) from exc
    finally:
        os.close(home)


_jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
_worker: threading.Thread | None = None
_worker_lock = threading.Lock()


def _serve_jobs() -> None:
    while True:
        job = _jobs.get()
        try:
            job()
        except _Stranded:
            # Left inside a container's namespace: this thread ends here and a fresh one takes
            # the jobs still queued.
            _start_worker(replace=True)
            return
        except Exception:  # noqa: BLE001, S110 - e.g. the waiting loop closed: next job
            pass


def _start_worker(*, replace: bool = False) -> None:
    global _worker
    with _worker_lock:
        if replace or _worker is None or not _worker.is_alive():
            _worker = threading.Thread(target=_serve_jobs, name="muelle-netns", daemon=True)
            _worker.start()


async def socket_inside(namespace: Namespace, make: Callable[[], socket.socket]) -> socket.socket:
    """`make()` run inside `namespace`; the socket it returns lives there."""
    if namespace.closed:
        raise NamespaceError("namespace handle closed")
    loop = asyncio.get_running_loop()
    done: asyncio.Future[socket.socket] = loop.create_future()

    # The job holds a duplicate of the handle: closing the namespace meanwhile cannot free the
    # descriptor's number for another file (another container's namespace) before setns reads it.
    fd = os.dup(namespace.fd)

    def work() -> None:
        try:
            sock = _make_inside(fd, make)
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            loop.call_soon_threadsafe(_settle, done, None, exc)
            if isinstance(exc, _Stranded):
                raise
        else:
            try:
                loop.call_soon_threadsafe(_settle, done, sock, None)
            except RuntimeError:  # that loop is closed: nobody will take the socket
                sock.close()
        finally:
            os.close(fd)

    if _worker is None or not _worker.is_alive():
        _start_worker()
    _jobs.put(work)
    return await done


def _settle(
    future: asyncio.Future[socket.socket], sock: socket.socket | None, exc: BaseException | None
) -> None:
    if future.cancelled():
        if sock is not None:
            sock.close()
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        assert sock is not None
        future.set_result(sock)


def listener(host: str, port: int) -> Callable[[], socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    def make() -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind((host, port))
            sock.listen(128)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return sock

    return make


def client(host: str) -> Callable[[], socket.socket]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    def make() -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        return sock

    return make


class ClientSockets:
    """Unconnected sockets made ahead of time inside one namespace, for its connections.

    Making a socket in a namespace takes a thread (setns moves only the calling thread); on a
    busy machine waiting for that thread to be scheduled is most of a connection's cost. So a
    few are made at once, in one thread, before they are needed, and each connection takes one.
    """

    def __init__(self, namespace: Namespace, host: str, batch: int = 8) -> None:
        self.namespace = namespace
        self.host = host
        self.batch = batch
        self._ready: list[socket.socket] = []
        self._refilling: asyncio.Task[None] | None = None
        self._closed = False

    async def take(self) -> socket.socket:
        # One refill at a time, whoever waits: a burst of connections each starting a batch of
        # its own made eight sockets per connection and left seven of each batch open.
        while not self._ready:
            if self._closed or self.namespace.closed:
                raise OSError("the namespace is closed")
            try:
                await asyncio.shield(self._refill_once())
            except asyncio.CancelledError:
                # The shared refill was cancelled by close(), not this caller: the loop sees
                # the closed namespace and says so. This caller's own cancellation goes on.
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
        sock = self._ready.pop()
        if len(self._ready) < self.batch // 2 and not self._closed:
            self._refill_once()
        return sock

    def _refill_once(self) -> asyncio.Task[None]:
        """The refill under way, or a new one."""
        if self._refilling is None or self._refilling.done():
            self._refilling = asyncio.get_running_loop().create_task(self._refill())
        return self._refilling

    async def _refill(self) -> None:
        make = client(self.host)
        count = self.batch - len(self._ready)

        def many() -> socket.socket:
            # One thread hop for the whole batch; the list travels out through the closure.
            made.extend(make() for _ in range(count))
            return made[0]

        made: list[socket.socket] = []
        if count > 0 and not self.namespace.closed:
            try:
                await socket_inside(self.namespace, many)
            except BaseException:
                for sock in made:
                    sock.close()
                raise
            self._ready.extend(made)

    def close(self) -> None:
        self._closed = True
        if self._refilling is not None:
            self._refilling.cancel()
        for sock in self._ready:
            sock.close()
        self._ready.clear()
