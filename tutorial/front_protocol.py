"""The server's first protocol on every connection: a preview's common request is served here,
anything else goes to uvicorn.

Each connection starts with a `FrontProtocol`. It reads the request head; when
sandbox.preview.fast_path plans it (the owner's cookie, a plain GET or HEAD to one of their
published ports, a head read strictly) it serves it itself, writing the answer to the
connection (`FrontBrowser`), and reads the next request of a kept-alive connection the same way.
At the first head it does not plan, it hands the connection (and the bytes it holds) to
uvicorn's HTTP protocol, which then owns it as if it had been there from the start: Muelle's
pages, the preview's entry links, websockets, request bodies, any head in doubt.

Why not inside uvicorn's protocol: measured, uvicorn's work per connection and per request
(its parser, its scope and request cycle, a task per request) cost a preview request more than
the preview's own checks (docs/ports.md, «Dónde se va el tiempo de la vista», and the figures
of this front there).

The front keeps what the server promises on every connection: the request-head timeout
(HTTP_HEADER_TIMEOUT, from the connection's start and after each answer), the keep-alive
timeout, pipelined requests answered in order, backpressure with the preview's stall bound, and
a graceful shutdown (uvicorn's server asks each connection in `server_state.connections`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Coroutine
from types import ModuleType
from typing import Any

from uvicorn.protocols.http.httptools_impl import STATUS_LINE
from uvicorn.protocols.utils import get_client_addr, get_path_with_query_string

from sandbox.deadlines import Deadlines

logger = logging.getLogger(__name__)

# A head larger than this is not the front's: uvicorn answers it (431 or 400).
HEAD_LIMIT = 16 * 1024
# Pipelined bytes held while a request is being served, before reading from the browser stops.
PIPELINE_LIMIT = 64 * 1024


@functools.cache
def _preview() -> tuple[ModuleType, ModuleType, ModuleType]:
    # Imported once the app (and so Django) is loaded, not with this module.
    from sandbox.preview import fast_path, forward, quick_exchange

    return fast_path, quick_exchange, forward


_access_logger = logging.getLogger("uvicorn.access")


def _deadlines_of(server_state: Any) -> Deadlines:
    """The head and keep-alive timeouts of the server's connections, on one timer."""
    deadlines = getattr(server_state, "front_deadlines", None)
    if deadlines is None:
        deadlines = server_state.front_deadlines = Deadlines()
    return deadlines


@functools.cache
def _access_log_on() -> bool:
    return _access_logger.hasHandlers()


class FrontProtocol(asyncio.Protocol):
    """Built as uvicorn builds its HTTP protocol; `inner` is uvicorn's protocol class."""

    inner: type[asyncio.Protocol]

    def __init__(
        self,
        config: Any,
        server_state: Any,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        if not config.loaded:
            config.load()
        self._made_with = (config, server_state, app_state, _loop)
        self.loop = _loop or asyncio.get_event_loop()
        self.server_state = server_state
        self._deadlines = _deadlines_of(server_state)
        self.header_timeout: float = config.header_timeout
        self.keep_alive_timeout: float = config.timeout_keep_alive
        # As uvicorn decides it (--no-access-log leaves the logger without handlers), once:
        # logging is configured before the server accepts its first connection.
        self.access_log = _access_log_on()
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.buffer = b""
        # How much of the buffer's head is known to hold no end of a head: a head sent a byte
        # at a time is searched once, not once per byte (the attack review measured 0.3 s of
        # CPU for one 16 KiB head dripped in single bytes, searched whole on every read).
        self.searched = 0
        self.serving: FrontBrowser | None = None  # the request being answered
        self.closing = False  # a shutdown asked: close after the answer being served
        self.lost = False
        self.handed_over = False
        self._in_next = False
        self._armed = False  # a head or keep-alive timeout is set (in the server's deadlines)
        self._deadline = 0.0  # when it fires (loop time), while it is armed
        self._reading_paused = False
        self.writing_paused = False
        self._drain: asyncio.Future[None] | None = None

    # --- asyncio.Protocol ----------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server_state.connections.add(self)
        self._arm(self.header_timeout)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.serving is None:
            self._next()
        elif len(self.buffer) > PIPELINE_LIMIT and not self._reading_paused:
            self._reading_paused = True
            self.transport.pause_reading()

    def eof_received(self) -> bool | None:
        return None  # the transport closes; an answer being served sees the browser gone

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.server_state.connections.discard(self)
        self._disarm()
        self._wake_drain()

    def pause_writing(self) -> None:
        self.writing_paused = True

    def resume_writing(self) -> None:
        self.writing_paused = False
        self._wake_drain()

    # --- what uvicorn's server asks of a connection --------------------------------------------
    def shutdown(self) -> None:
        if self.serving is None:
            self.transport.close()
        else:
            self.closing = True

    # --- requests -----------------------------------------------------------------------------
    def _next(self) -> None:
        """Serves the requests in the buffer, one at a time (an answer that came at once is
        done before serve() returns), until one is in progress or the buffer holds none."""
        self._in_next = True
        try:
            while self.serving is None and not self.transport.is_closing() and self._take():
                pass
        finally:
            self._in_next = False

    def _take(self) -> bool:
        """Starts the request at the buffer's head: True if it did, False when it waits for
        more, or handed the connection over."""
        if self.handed_over:
            return False
        buffer = self.buffer
        # From three bytes back: an end split between two reads is found whole.
        start = max(0, self.searched - 3)
        end = buffer.find(b"\r\n\r\n", start)
        if end < 0:
            # A head ended by bare LFs, or too large, is uvicorn's to read (or refuse).
            if (
                len(buffer) > HEAD_LIMIT
                or buffer.find(b"\n\n", start) >= 0
                or buffer.find(b"\n\r\n", start) >= 0
            ):
                self._hand_over()
            else:
                self.searched = len(buffer)
            return False
        fast_path, quick_exchange, _ = _preview()
        try:
            planned = fast_path.plan(buffer[:end]) if end <= HEAD_LIMIT else None
        except Exception:  # a bug here must not cost the request: uvicorn's path serves it
            logger.exception("vista: error leyendo la cabecera")
            planned = None
        if planned is None:
            self._hand_over()
            return False
        self.buffer = buffer[end + 4 :]
        self.searched = 0
        self._disarm()
        browser = self.serving = FrontBrowser(self, planned)
        try:
            quick_exchange.serve(planned, browser)
        except Exception:
            logger.exception("vista: error sirviendo la petición")
            browser.abort()
        return True

    def spawn(self, work: Coroutine[Any, Any, None], browser: FrontBrowser) -> None:
        task = self.loop.create_task(self._run(work, browser))
        tasks = self.server_state.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    async def _run(self, work: Coroutine[Any, Any, None], browser: FrontBrowser) -> None:
        try:
            await work
        except Exception as exc:  # as uvicorn does for an app's error: logged, connection dropped
            if not isinstance(exc, _preview()[2].Stalled):
                logger.error("vista: error sirviendo la petición", exc_info=exc)
            self.transport.abort()
        self.served(browser)

    def served(self, browser: FrontBrowser) -> None:
        """The answer is out (or the request ended): the next request, or the end."""
        self.serving = None
        if self.lost or self.transport.is_closing():
            return
        if self.writing_paused:
            # The next answer waits until the browser took enough of this one.
            self.serving = browser
            self.spawn(browser.drained(), browser)
            return
        if not browser.complete or not browser.keep_alive or self.closing:
            self.transport.close()
            return
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        # The next request: its head has HTTP_HEADER_TIMEOUT once it starts, and an idle
        # connection the keep-alive timeout.
        self._arm(self.header_timeout if self.buffer else self.keep_alive_timeout)
        if self.buffer and not self._in_next:
            self._next()

    def _hand_over(self) -> None:
        """From now on uvicorn's protocol owns the connection, and reads what is held."""
        self.handed_over = True
        armed = self._armed
        self._disarm()
        self.server_state.connections.discard(self)
        inner = self.inner(*self._made_with)  # type: ignore[call-arg]
        # The head being read has what was left of its time, not a new HEADER_TIMEOUT: handed
        # over half-sent, it would have been held twice as long.
        inner.head_deadline = self._deadline if armed else None  # type: ignore[attr-defined]
        self.transport.set_protocol(inner)
        inner.connection_made(self.transport)
        if self._reading_paused:
            self._reading_paused = False
            self.transport.resume_reading()
        if self.writing_paused:
            inner.pause_writing()  # type: ignore[attr-defined]
        buffer, self.buffer = self.buffer, b""
        if buffer:
            inner.data_received(buffer)

    # --- timers and flow ----------------------------------------------------------------------
    def _arm(self, seconds: float) -> None:
        # One timer for every connection of the server (sandbox.deadlines), not one made and
        # cancelled for each connection: see docs/ports.md, «Menos temporizadores».
        self._deadlines.add(self, seconds, self._timed_out)
        self._armed = True
        self._deadline = self.loop.time() + seconds

    def _disarm(self) -> None:
        if self._armed:
            self._deadlines.discard(self)
            self._armed = False

    def _timed_out(self) -> None:
        self._armed = False
        if self.serving is None and not self.handed_over:
            self.transport.close()

    async def drain(self) -> None:
        """Until the browser took enough of what waits, or left."""
        while self.writing_paused and not self.lost:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None

    def _wake_drain(self) -> None:
        waiter = self._drain
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def client(self) -> tuple[str, int] | None:
        peer = self.transport.get_extra_info("peername")
        return (str(peer[0]), int(peer[1])) if isinstance(peer, tuple) and len(peer) >= 2 else None


class FrontBrowser:
    """One preview answer written to the browser's connection as uvicorn writes an app's:
    status line, uvicorn's default headers (the date), Content-Length or chunked framing,
    keep-alive, the access log line. The container's header names and values were checked as
    uvicorn checks an app's (sandbox.preview.container_http), and the preview adds only fixed
    ones. The head waits for the body's first piece (or flush()): a page that came whole goes
    out in one write."""

    def __init__(self, front: FrontProtocol, planned: Any) -> None:
        self.front = front
        self.scope = planned.scope
        self.head_only = planned.scope["method"] == "HEAD"
        self.keep_alive = planned.keep_alive
        self.chunked = False
        self.complete = False
        self.held = b""

    # --- sandbox.preview.quick_exchange.Browser ------------------------------------------------
    def answer_now(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self._start(status, headers)
        self._write(body, more=False)

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        self.front.spawn(work, self)

    def done(self) -> None:
        self.front.served(self)

    def abort(self) -> None:
        self.front.transport.abort()
        self.front.served(self)

    # --- sandbox.preview.forward.Browser -------------------------------------------------------
    async def request_body(self) -> tuple[bytes, bool] | None:
        return b"", False  # the front takes requests without a body only

    async def start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._start(status, headers)

    async def body(self, data: bytes, *, more: bool) -> None:
        if self.front.writing_paused and not self.gone():
            await self.drained()
        self._write(data, more=more)

    async def drained(self) -> None:
        """Until the browser took enough of what waits; Stalled (the connection dropped) when it
        took nothing for PREVIEW_IDLE_SECONDS."""
        forward = _preview()[2]
        try:
            await forward.or_stalled(self.front.drain())
        except forward.Stalled:
            self.front.transport.abort()
            raise

    def flush(self) -> None:
        if self.held and not self.gone():
            self.front.transport.write(self.held)
        self.held = b""

    def watch(self) -> None:
        pass  # connection_lost marks the front

    def gone(self) -> bool:
        return self.front.lost or self.front.transport.is_closing()

    def stop_watching(self) -> None:
        pass

    # --- the bytes -----------------------------------------------------------------------------
    def _start(self, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if self.front.access_log and _access_logger.isEnabledFor(logging.INFO):
            # As uvicorn logs an answer (its access formatter reads these five arguments).
            scope: Any = {**self.scope, "client": self.front.client()}
            _access_logger.info(
                '%s - "%s %s HTTP/%s" %d',
                get_client_addr(scope),
                scope["method"],
                get_path_with_query_string(scope),
                scope["http_version"],
                status,
            )
        self.keep_alive = self.keep_alive and not self.front.closing
        content = [STATUS_LINE.get(status) or b"HTTP/1.1 %d \r\n" % status]
        framed = False
        for name, value in (*self.front.server_state.default_headers, *headers):
            framed = framed or name == b"content-length"
            content += (name, b": ", value, b"\r\n")
        if not self.keep_alive:
            content.append(b"connection: close\r\n")
        if not framed and not self.head_only and status not in (204, 304):
            self.chunked = True
            content.append(b"transfer-encoding: chunked\r\n")
        content.append(b"\r\n")
        self.held = b"".join(content)

    def _write(self, data: bytes, *, more: bool) -> None:
        if self.gone():
            return
        if self.head_only:
            data = b""
        elif self.chunked:
            data = (b"%x\r\n%b\r\n" % (len(data), data) if data else b"") + (
                b"" if more else b"0\r\n\r\n"
            )
        if self.held:
            data, self.held = self.held + data, b""
        if data:
            self.front.transport.write(data)
        if not more:
            self.complete = True
            if not self.keep_alive:
                # At once: a browser that asked to close waits for the end of the connection,
                # and what is left to do for this request (the container's connection kept
                # for the next one) is not its business.
                self.front.transport.close()
