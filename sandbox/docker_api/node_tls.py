"""Mutual TLS to the Swarm nodes' engines, offered to the rest of Muelle as private unix sockets.

A node's engine listens on tcp:// with `--tlsverify`: only a client holding a certificate of the
deployment's CA gets in, and Muelle only talks to a node whose certificate that CA signed for the
node's address (docs/despliegue.md). Three kinds of client reach a node's engine: the Docker SDK
(pool threads), the gateway's asyncio upstream (the student's CLI), and the hijacked exec streams
that terminals, runs and checks read with `loop.sock_recv`. The last need a plain socket (asyncio
refuses an SSLSocket there), and the student's `docker run -i` needs stdin's half-close carried to
the engine, which asyncio's TLS transport cannot send (no write_eof) but TLS can: a close_notify,
as the docker CLI sends. So TLS is done once, here: per node address, a unix socket in a folder
only this process can enter (0700), served by one relay thread; each connection accepted there is
carried to the node over a TLS connection of its own, a half-close becoming a close_notify. The
clients connect to `local_address(address)` and never see TLS.

    settings.SANDBOX_SWARM_TLS_CA / _CERT / _KEY   # PEM files; all three or none
    node_tls.local_address("tcp://10.0.0.5:2376")  # -> "unix:///tmp/muelle-tls-…/….sock"
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import hashlib
import logging
import os
import shutil
import socket
import ssl
import tempfile
import threading
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0  # TCP connect and handshake to a node; an absent node must fail fast
CHUNK = 64 * 1024

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_folder: str | None = None
_served: dict[str, str] = {}  # node address -> unix:// address of its relay
# Strong references to the relay's servers and connections: asyncio keeps only weak ones to
# tasks, and a connection waiting on its node (whose stream reader its transport references
# weakly) is otherwise garbage, collected mid-stream (an attach lost its output that way).
_alive: set[object] = set()
_context: tuple[tuple[str, str, str], ssl.SSLContext] | None = None


def material() -> tuple[str, str, str] | None:
    """(CA, client certificate, client key) file paths, or None when TLS is not configured."""
    files = (
        str(settings.SANDBOX_SWARM_TLS_CA),
        str(settings.SANDBOX_SWARM_TLS_CERT),
        str(settings.SANDBOX_SWARM_TLS_KEY),
    )
    return files if all(files) else None


def client_context() -> ssl.SSLContext:
    """Verifies the node against the CA only (not the system's), and presents Muelle's own
    certificate; rebuilt when the settings name other files."""
    global _context
    files = material()
    if files is None:
        raise ImproperlyConfigured("SANDBOX_SWARM_TLS_CA, _CERT and _KEY are not set")
    with _lock:
        if _context is not None and _context[0] == files:
            return _context[1]
    ca, cert, key = files
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies certificate and host name
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_verify_locations(cafile=ca)
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ImproperlyConfigured(f"SANDBOX_SWARM_TLS_*: cannot load {files}: {exc}") from exc
    with _lock:
        _context = (files, context)
    return context


def local_address(address: str) -> str:
    """Where to connect for the engine at `address`: for a tcp:// one with TLS configured, the
    unix socket of its relay (started on first use); any other address as it is."""
    if not address.startswith("tcp://") or material() is None:
        return address
    with _lock:
        served = _served.get(address)
    if served is not None:
        return served
    client_context()  # bad material fails here, in the caller, not in the relay
    parts = urlsplit(address)
    if parts.hostname is None or parts.port is None:
        raise ImproperlyConfigured(f"a node engine address needs a host and a port: {address}")
    with _lock:
        served = _served.get(address)
        if served is None:
            served = _serve(address, parts.hostname, parts.port)
            _served[address] = served
    return served


def _serve(address: str, host: str, port: int) -> str:
    """Called with _lock held: the listening socket is made here, so a client may connect at
    once (the backlog holds it until the relay loop accepts)."""
    global _folder
    if _folder is None:
        _folder = tempfile.mkdtemp(prefix="muelle-tls-")  # 0700: this process's user only
        atexit.register(shutil.rmtree, _folder, True)
    path = os.path.join(_folder, hashlib.sha256(address.encode()).hexdigest()[:16] + ".sock")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    listener.listen(128)
    listener.setblocking(False)
    loop = _relay_loop()

    async def start() -> None:
        _alive.add(
            await asyncio.start_unix_server(
                lambda r, w: _carry(r, w, host, port, address), sock=listener
            )
        )

    loop.call_soon_threadsafe(lambda: _keep(loop.create_task(start())))
    return f"unix://{path}"


def _keep(task: asyncio.Task[None]) -> None:
    _alive.add(task)
    task.add_done_callback(_alive.discard)


def _relay_loop() -> asyncio.AbstractEventLoop:
    global _loop
    if _loop is None:
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="muelle-node-tls", daemon=True).start()
        _loop = loop
    return _loop


async def _carry(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int, address: str
) -> None:
    this = asyncio.current_task()
    if this is not None:
        _keep(this)
    try:
        node = await TlsStream.open(host, port, client_context())
    except (OSError, ssl.SSLError, TimeoutError, ImproperlyConfigured) as exc:
        # The client sees its connection closed, which it reports as an engine that does not
        # answer; the log says why (a refused certificate reads differently from a dead node).
        logger.warning("no TLS connection to the engine at %s: %s", address, exc)
        writer.close()
        return

    async def upward() -> None:
        while data := await reader.read(CHUNK):
            await node.write(data)
        await node.close_write()  # the client's half-close, as a close_notify

    async def downward() -> None:
        while data := await node.read():
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    tasks = [asyncio.ensure_future(upward()), asyncio.ensure_future(downward())]
    for task in tasks:
        _keep(task)
    try:
        # Both directions end on their own; an error in either ends the whole connection.
        done, _pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            if task.exception() is not None:
                logger.debug("relay to %s ended: %s", address, task.exception())
    finally:
        for task in tasks:
            task.cancel()
        node.close()
        writer.close()


class TlsStream:
    """A TLS client connection over an asyncio TCP stream, through ssl.SSLObject, so that it
    can half-close: close_write() sends a close_notify and reading goes on.

    The close_notify is sent only where no received record waits unread: SSLObject.unwrap()
    also tries to read the node's own close_notify, and OpenSSL discards the application data
    it meets on the way once it has sent its own (ssl3_read_bytes). So it is sent
    while the reader waits for bytes from the network with nothing received left over (every
    record read, none begun), or at the reader's next such wait, or at once when reading is
    over. A program whose output depends on its input's end pauses, so such a wait comes."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, context: ssl.SSLContext
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        host = writer.get_extra_info("peername")[0]
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname=host)
        self._waiting = False  # read() waits for the network: every record was read
        self._ended = False  # read() reported the end
        self._close_wanted = False

    @classmethod
    async def open(cls, host: str, port: int, context: ssl.SSLContext) -> TlsStream:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            reader, writer = await asyncio.open_connection(host, port)
            stream = cls(reader, writer, context)
            try:
                while True:
                    try:
                        stream.tls.do_handshake()
                        break
                    except ssl.SSLWantReadError:
                        await stream._flush()
                        if not await stream._fill():
                            raise ConnectionResetError("the node closed in the handshake") from None
                await stream._flush()
            except BaseException:
                stream.close()
                raise
        return stream

    async def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def _fill(self) -> bool:
        data = await self.reader.read(CHUNK)
        if not data:
            self.incoming.write_eof()
            return False
        self.incoming.write(data)
        return True

    async def read(self) -> bytes:
        """Up to CHUNK bytes of plaintext; b"" at the end (close_notify or the node's EOF)."""
        while True:
            try:
                data = self.tls.read(CHUNK)
            except ssl.SSLWantReadError:
                if self._close_wanted and not self.incoming.pending:
                    self._send_close_notify()
                await self._flush()  # what reading queued (a key update's answer)
                self._waiting = True
                try:
                    await self._fill()  # at EOF, the next read reports the end
                finally:
                    self._waiting = False
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                data = b""
            await self._flush()
            if not data:  # b"" once the node's close_notify came
                self._ended = True
            return data

    async def write(self, data: bytes) -> None:
        self.tls.write(data)
        await self._flush()

    async def close_write(self) -> None:
        if self._ended or (self._waiting and not self.incoming.pending):
            self._send_close_notify()
            await self._flush()
        else:
            self._close_wanted = True  # read() sends it before it next waits

    def _send_close_notify(self) -> None:
        self._close_wanted = False
        # The node's close_notify comes later, with its EOF: unwrap() wants to read it.
        with contextlib.suppress(ssl.SSLError):
            self.tls.unwrap()

    def close(self) -> None:
        self.writer.close()
